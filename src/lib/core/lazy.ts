/**
 * A function that loads its module on its first call, then calls straight through. Each registration
 * file wraps its handler in it, so loading the app registers every function without loading any feature
 * code: a cold start reads and compiles only the modules of the functions it invokes.
 *
 * `load` is the registration file's own `require` of the handler module: synchronous, so the first call
 * starts no ESM loader and waits for nothing else. If it throws, that call fails as an invocation does
 * and the next call tries again.
 */
export function lazy<K extends string, M extends Record<K, (...args: never[]) => unknown>>(load: () => M, name: K): M[K] {
  let target: M[K] | undefined;
  const call = (...args: Parameters<M[K]>): unknown => {
    target ??= load()[name];
    return target(...args);
  };
  return call as M[K];
}
