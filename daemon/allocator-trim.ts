/**
 * Gives the C allocator's free memory back to the system: glibc's `malloc_trim(0)`, reached
 * through Node's `node:ffi` (Node 26 and later). After a load, glibc keeps the pages freed
 * between live allocations (socket reads, Buffers, V8's compiler zones) in its arenas; the
 * memory limiter's release compacts V8's heap, and this returns what the allocator kept beside
 * it. A minute after a minute of 8 hosts (row 12c), the resident set was 111 MiB without it and
 * 70 MiB with it, against 54 MiB idle; the trim blocks for about 10 ms.
 *
 * Where there is no glibc (macOS, musl) or no `node:ffi` (Node 22 and 24, or started with
 * `--no-experimental-ffi`), there is nothing to call and the daemon does without.
 */

/** The trim, or `null` where it cannot be had (the memory limiter asks once and keeps the answer). */
export function allocatorTrim(): (() => void) | null {
  if (process.platform !== 'linux') return null;
  // node:ffi warns once that it is experimental; the daemon uses one function of it, for a
  // fixed libc symbol, and its log should not carry that warning on every start.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    const ffi = process.getBuiltinModule('node:ffi') as FfiModule | undefined;
    if (ffi === undefined) return null;
    // The process's own symbols: libc is loaded already, under whatever file name it has.
    const { malloc_trim: trim } = ffi.dlopen(null, { malloc_trim: { arguments: ['uint64'], return: 'int32' } }).functions;
    return () => void trim(0n);
  } catch {
    // No malloc_trim in this libc (musl), or node:ffi refused (the permission model without --allow-ffi).
    return null;
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** The part of `node:ffi` used here (not in @types/node yet). */
interface FfiModule {
  dlopen(
    path: string | null,
    definitions: { malloc_trim: { arguments: ['uint64']; return: 'int32' } },
  ): { functions: { malloc_trim(pad: bigint): number } };
}
