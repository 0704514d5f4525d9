/**
 * A first-in first-out queue with O(1) push and shift (an array and a moving
 * head), plus O(1) put-back at the front (a stack read before the array) for
 * jobs requeued after their worker lost them.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private readonly front: T[] = [];

  get length(): number {
    return this.front.length + this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  unshift(item: T): void {
    this.front.push(item);
  }

  shift(): T | undefined {
    if (this.front.length > 0) return this.front.pop();
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes one item (admin `cancel job`): O(n), rare. */
  remove(item: T): boolean {
    const inFront = this.front.indexOf(item);
    if (inFront >= 0) return this.front.splice(inFront, 1).length === 1;
    const at = this.items.indexOf(item, this.head);
    if (at < 0) return false;
    this.items.splice(at, 1);
    return true;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.front.length - 1; i >= 0; i--) yield this.front[i];
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
