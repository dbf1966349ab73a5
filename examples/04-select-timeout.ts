/**
 * A select with a timeout: wait for a reply, or give up when `after` fires.
 * Time is virtual (TestClock), so the output is the same on every run and
 * the program ends at once; with the default clock it is real time.
 */
import { after, Channel, recv, select } from 'weftjs';
import { TestClock } from 'weftjs/testing';

const clock = new TestClock();

/** A server that replies after `delay` ms of (virtual) time. */
function ask(question: string, delay: number): Channel<string> {
  const reply = new Channel<string>(1);
  clock.setTimeout(() => reply.trySend(`answer to ${question}`), delay);
  return reply;
}

async function askWithTimeout(question: string, delay: number, timeout: number): Promise<string> {
  const started = clock.now();
  const result = select([
    recv(ask(question, delay), (answer) => `${question}: ${answer} after ${clock.now() - started} ms`),
    recv(after(timeout, { clock }), (t) => `${question}: timed out at ${(t as number) - started} ms`),
  ]);
  await clock.advance(Math.max(delay, timeout));
  return result;
}

console.log(await askWithTimeout('fast', 50, 100));
console.log(await askWithTimeout('slow', 500, 100));
