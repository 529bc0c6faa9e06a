// Read by the Emscripten compiler after emnapi's JS library (cmake/wasm.cmake), for Emscripten 3.1.6:
// - there a library value that is a plain string names another symbol to alias; emnapi's variables written
//   that way ("undefined", "0") are given as initial values instead ('=' prefix);
// - without Emscripten's proxying queue (3.1.9), emnapi posts its cross-thread wake-ups as worker messages,
//   and the listener that receives them must be linked in.
mergeInto(LibraryManager.library, {
  $emnapiCtx: '=undefined',
  $emnapiNodeBinding: '=undefined',
  $emnapiAsyncWorkPoolSize: '=0',
  _emnapi_async_send_js__deps: ['_emnapi_set_immediate', '_emnapi_next_tick', '$emnapiAddSendListener'],
});
