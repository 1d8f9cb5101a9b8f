/**
 * Azurite, run as the child of the process that started it (tools/azurite.ts), for as long as that
 * process lives. The parent holds the other end of this process's stdin: when the parent ends, however it
 * ends (a signal, a crash, SIGKILL), the pipe closes and Azurite goes with it, so no orphan keeps ports
 * 10000-10002 for the next `npm start` to reuse silently.
 */
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
// Azurite's servers keep this process alive; the pipe alone must not, so that SIGTERM still ends it.
(process.stdin as NodeJS.ReadStream & { unref?: () => void }).unref?.();
// Azurite reads its options from process.argv, which are this script's arguments.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- Azurite's entry point runs on require
require('azurite/dist/src/azurite.js');
