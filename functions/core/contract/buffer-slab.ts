/**
 * Buffers cut from shared slabs, for the many small messages the relay encodes: `Buffer.allocUnsafe`
 * makes a new ArrayBuffer for anything past 4 KiB, and making it took longer than filling it
 * (see docs/PERFORMANCE.md). A slab lives while any buffer cut from it does; buffers are cut in time order
 * and released roughly in that order, so at most about one slab is held beyond the bytes in use.
 */
export class BufferSlab {
  private slab = new ArrayBuffer(0);
  private used = 0;

  constructor(
    private readonly slabBytes = 256 * 1024,
    /** Larger buffers get their own allocation: they would waste a slab's tail. */
    private readonly largestCut = slabBytes >> 3,
  ) {}

  /** A buffer of `size` bytes, uninitialized (the caller writes every byte). */
  take(size: number): Buffer {
    if (size > this.largestCut) return Buffer.allocUnsafe(size);
    if (this.used + size > this.slab.byteLength) {
      this.slab = new ArrayBuffer(this.slabBytes);
      this.used = 0;
    }
    const buffer = Buffer.from(this.slab, this.used, size);
    // Next cut 8-byte aligned, as the pool of Buffer.allocUnsafe does.
    this.used += (size + 7) & ~7;
    return buffer;
  }
}
