// hg::cuda::Graph (core/cuda_graph.h): stream capture of halfgrad's one stream into a CUDA
// graph, with a private allocator pool (kernels/cuda/graph_pool.h) that replays reuse.
#include "halfgrad/core/cuda_graph.h"

#include <cuda_runtime.h>

#include <atomic>
#include <optional>
#include <vector>

#include "halfgrad/core/cuda.h"
#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cuda/cuda_check.h"
#include "halfgrad/kernels/cuda/graph_pool.h"

namespace hg::cuda {

struct Graph::Impl {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  int64_t pool = 0;
};

Graph::Graph() : impl_(std::make_unique<Impl>()) {}

Graph::~Graph() {
  // No checks: a destructor must not throw, and at exit the runtime may be gone.
  if (impl_->exec != nullptr) cudaGraphExecDestroy(impl_->exec);
  if (impl_->graph != nullptr) cudaGraphDestroy(impl_->graph);
  if (impl_->pool != 0) release_graph_pool(impl_->pool);
}

bool Graph::captured() const { return impl_->exec != nullptr; }

namespace {

std::atomic<bool> capture_under_way{false};  // is_capturing(); one capture at a time
std::atomic<int64_t> replays_launched{0};    // graph_replays()

// Raises the flag for the lifetime of one capture, whichever way it ends.
struct CaptureFlag {
  CaptureFlag() { capture_under_way = true; }
  ~CaptureFlag() { capture_under_way = false; }
};

// Ends a capture that fn left by throwing: the partial graph is dropped, the error stands.
void abandon_capture(cudaStream_t stream) {
  cudaGraph_t partial = nullptr;
  cudaStreamEndCapture(stream, &partial);
  if (partial != nullptr) cudaGraphDestroy(partial);
  cudaGetLastError();  // an invalidated capture leaves a (non-sticky) error behind
}

// A new pool, made the capturing one (which throws while another graph is being captured).
int64_t begin_private_pool() {
  const int64_t pool = create_graph_pool();
  try {
    begin_graph_pool(pool);
  } catch (...) {
    release_graph_pool(pool);
    throw;
  }
  return pool;
}

// The captured graph's nodes of the wanted type, or all of them.
int64_t count_nodes(cudaGraph_t graph, std::optional<cudaGraphNodeType> wanted) {
  if (graph == nullptr) return 0;
  size_t count = 0;
  HG_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  HG_CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &count));
  int64_t matching = 0;
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    HG_CUDA_CHECK(cudaGraphNodeGetType(node, &type));
    matching += !wanted || type == *wanted ? 1 : 0;
  }
  return matching;
}

}  // namespace

bool is_capturing() { return capture_under_way; }
int64_t graph_replays() { return replays_launched; }

void Graph::capture(const std::function<void()>& fn) {
  HG_CHECK(is_available(), "cuda::Graph::capture: no CUDA device is available");
  HG_CHECK(!captured() && impl_->pool == 0,
           "cuda::Graph::capture: this graph was captured already, or its capture "
           "failed (a graph is captured once and replayed many times)");
  HG_CHECK(!sync_after_launch(),
           "cuda::Graph::capture: set_sync_after_launch(true) (or "
           "HG_CUDA_SYNC=1) synchronises after every launch, which a capture cannot contain");
  synchronize();  // eager work (and its late reports) is done before the graph's begins
  // cuBLAS's and cuBLASLt's handles and workspaces, made on first use, are made now:
  // cublasCreate and its cudaMalloc inside the capture would fail it (a graph's first GEMM would
  // be its first), and a workspace carved from this graph's pool would die with the graph.
  (void)cublas_handle();
  prepare_cublaslt();
  cudaStream_t stream = current_stream();
  impl_->pool = begin_private_pool();  // this graph is now spent, whether the capture succeeds
  const CaptureFlag flag;
  try {
    HG_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  } catch (...) {
    end_graph_pool();
    throw;
  }
  try {
    fn();
  } catch (const Error& e) {
    abandon_capture(stream);
    end_graph_pool();
    HG_FAIL(
        "cuda::Graph::capture: the captured code failed; a capture cannot contain anything "
        "that waits for the device (item(), to(kCPU), printing a CUDA tensor, an optimizer "
        "step decided on the host) or a copy from pageable host memory: ",
        e.what());
  } catch (...) {
    abandon_capture(stream);
    end_graph_pool();
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(stream, &impl_->graph);
  end_graph_pool();
  HG_CUDA_CHECK(ended);
  cudaGraphExec_t exec = nullptr;  // set only once instantiated: captured() then says so
  HG_CUDA_CHECK(cudaGraphInstantiate(&exec, impl_->graph, 0));
  impl_->exec = exec;
}

int64_t Graph::kernel_launches() const {
  return count_nodes(impl_->graph, cudaGraphNodeTypeKernel);
}

int64_t Graph::nodes() const { return count_nodes(impl_->graph, std::nullopt); }

void Graph::replay() {
  HG_CHECK(captured(), "cuda::Graph::replay: nothing was captured (call capture() first)");
  HG_CUDA_CHECK(cudaGraphLaunch(impl_->exec, current_stream()));
  ++replays_launched;
  if (sync_after_launch()) HG_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
}

}  // namespace hg::cuda
