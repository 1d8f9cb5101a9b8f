import { DeadlineExceededError } from './errors';

/**
 * `work`'s result, or a DeadlineExceededError once `ms` have passed. The work is not cancelled: callers use
 * this for reads, or for writes whose late success is harmless (a duplicate that processing absorbs).
 * The timer never keeps the process alive.
 */
export async function withinDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new DeadlineExceededError(ms)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
