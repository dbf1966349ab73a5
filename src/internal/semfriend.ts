/**
 * What `Cond` needs of `Mutex` beyond its public surface: which `Lock`
 * holds it, so that a `Cond.wait` hands the mutex back to the very `Lock`
 * its caller holds (a `using` declaration must still release it).
 *
 * `Mutex` fills these in once, from a static block, when its class is
 * defined; nothing else writes them.
 */
import type { Lock } from '../lock.js';

export const mutexFriend: {
  // Typed `object`, not `Mutex`: internal files import nothing from core.
  holder: (mu: object) => Lock | null;
  setHolder: (mu: object, lock: Lock | null) => void;
} = {
  holder: () => null,
  setHolder: () => {},
};
