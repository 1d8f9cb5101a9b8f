/**
 * The time a Graph read is sent, in milliseconds since the epoch, as the directory orders writes by it
 * (the newer read wins). Strictly increasing within an instance: two reads sent in the same millisecond
 * still order, the later one newer, where a tie would let whichever write lands last win.
 */
let last = 0;

export function readTime(wall: number = Date.now()): number {
  // 1/1024 ms: a power of two, so each step is exact in a double at today's epoch milliseconds.
  last = wall > last ? wall : last + 1 / 1024;
  return last;
}
