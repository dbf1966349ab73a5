/**
 * What `Cond` needs of `Mutex` beyond its public surface: which `Lock`
 * holds it, so that a `Cond.wait` hands the mutex back to the very `Lock`
 * its caller holds (a `using` declaration must still release it).
 *
 * `Mutex` fills these in once, from a static block, when its class is
 * defined; nothing else writes them.
 */
import type { Lock } from '../lock.js';
import type { Mutex } from '../mutex.js';

export const mutexFriend: {
  holder: (mu: Mutex) => Lock | null;
  setHolder: (mu: Mutex, lock: Lock | null) => void;
} = {
  holder: () => null,
  setHolder: () => {},
};
