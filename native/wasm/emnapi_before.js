// Read by the Emscripten compiler before emnapi's JS library (cmake/wasm.cmake). emnapi's library is written
// for Emscripten >= 3.1.9; Debian 12 ships 3.1.6, whose library preprocessor lacks a few of the macros it
// uses. This file supplies them at compile time (the macro block below runs inside the compiler): the unsigned
// heap types 'u8'..'u64' of makeGetValue/makeSetValue, POINTER_WASM_TYPE, and getUnsharedTextDecoderView.
// Newer Emscripten versions define all of them; there the unsigned types map onto what they already mean.
{{{ (function () {
  const g = globalThis;
  const unsignedOf = { u8: 'i8', u16: 'i16', u32: 'i32', u64: 'i64' };
  // makeGetValue(ptr, pos, type, noNeedFirst, unsigned, ...) and makeSetValue(ptr, pos, value, type, ...):
  // an unsigned type becomes the signed one of its size, read unsigned (a store writes the same bits).
  const getValue = g.makeGetValue, setValue = g.makeSetValue;
  g.makeGetValue = function (ptr, pos, type, noNeedFirst, unsigned, ...rest) {
    return unsignedOf[type] ? getValue(ptr, pos, unsignedOf[type], noNeedFirst, true, ...rest)
      : getValue(ptr, pos, type, noNeedFirst, unsigned, ...rest);
  };
  g.makeSetValue = function (ptr, pos, value, type, ...rest) {
    return setValue(ptr, pos, value, unsignedOf[type] || type, ...rest);
  };
  if (typeof g.POINTER_WASM_TYPE === 'undefined') g.POINTER_WASM_TYPE = 'i32';
  if (typeof g.getUnsharedTextDecoderView === 'undefined') {
    // Without pthreads (the one-thread build) the heap is never shared, and a page that is not cross-origin
    // isolated has no SharedArrayBuffer to test against.
    g.getUnsharedTextDecoderView = function (heap, start, end) {
      if (!g.USE_PTHREADS) return `${heap}.subarray(${start}, ${end})`;
      return `(${heap}.buffer instanceof SharedArrayBuffer ? ${heap}.slice(${start}, ${end}) : ` +
        `${heap}.subarray(${start}, ${end}))`;
    };
  }
  return '';
})() }}}
mergeInto(LibraryManager.library, {});
