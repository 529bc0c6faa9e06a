# A thin adapter for node-gyp based tools: it runs the CMake build (CMakeLists.txt holds all build logic),
# which writes build/Release/kbfgs_native.node.
{
  "targets": [
    {
      "target_name": "kbfgs_native",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_compile",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/kbfgs_native.node"],
          "action": ["node", "-e", "process.argv.splice(1, 0, 'cmake-js'); require('cmake-js/bin/cmake-js')", "compile", "--out", "build/cmake"]
        }
      ]
    }
  ]
}
