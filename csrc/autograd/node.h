// The autograd graph. An op that runs with grad mode on and an input that requires grad
// records one Node: its backward function (a closure holding what the backward needs,
// saved as detached tensors so that no output refers back to its own node) and one edge
// per input, to the node that produced it or to the leaf whose .grad it accumulates into.
// A node may have several outputs (an LSTM's h_seq, h_last, c_last): each output tensor
// knows its index (Tensor::output_nr), edges name the producer's output they came from, and
// the backward receives one gradient per output, summed over every use of that output.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastnn {

// Thread-local switch behind `fn.no_grad()`.
bool grad_enabled();
void set_grad_enabled(bool enabled);

class NoGradGuard {
 public:
  NoGradGuard() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// grad_out has the output's shape; returns one gradient per input (undefined where
// needs[i] is false), each with that input's shape.
using BackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad_out, const std::vector<bool>& needs)>;
// For ops with several outputs: grads_out[k] is the gradient of output k, or UNDEFINED when
// no gradient reached that output (nothing downstream used it), so the op can skip its
// terms instead of reading zeros. At least one is defined. Returns one per input as above.
using MultiBackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads_out,
                                                          const std::vector<bool>& needs)>;

class Node {
 public:
  struct Edge {
    std::shared_ptr<Node> node;        // the input's producer, or
    std::shared_ptr<TensorImpl> leaf;  // the leaf tensor itself; both null: no grad needed
    int output = 0;                    // which of node's outputs the input is
  };

  Node(const char* name, BackwardFn fn) : name_(name), fn_(std::move(fn)) {}
  Node(const char* name, MultiBackwardFn fn, int num_outputs)
      : name_(name), multi_fn_(std::move(fn)), num_outputs_(num_outputs) {}
  const char* name() const { return name_.c_str(); }
  int num_outputs() const { return num_outputs_; }
  const std::vector<Edge>& edges() const { return edges_; }
  const std::vector<bool>& needs() const { return needs_; }
  bool released() const { return released_; }

  // One gradient per output (undefined where none arrived).
  std::vector<Tensor> apply(const std::vector<Tensor>& grads_out);
  // Frees what the backward saved; a later apply raises.
  void release();
  // Remembers the version of a tensor the backward reads (saved input or output), so that
  // apply raises, as PyTorch does, when an in-place op has modified it since.
  void add_saved(const Tensor& t);

 private:
  friend void add_edges(Node&, const std::vector<Tensor>&);
  std::string name_;  // a copy: op names may come from Python strings
  // One of the two: single-output ops keep their own function (no wrapper to allocate).
  BackwardFn fn_;
  MultiBackwardFn multi_fn_;
  int num_outputs_ = 1;
  std::vector<Edge> edges_;
  std::vector<bool> needs_;
  bool released_ = false;
  struct Saved {
    std::shared_ptr<Storage> storage;
    uint64_t version;
    Shape shape;
    DType dtype;
  };
  std::vector<Saved> saved_;
};

// Whether an op over these inputs must record a node.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `out` the result of a recorded op over `inputs` (undefined inputs allowed).
void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs, BackwardFn fn);
// The same for an op with several outputs: outputs[k] becomes output k of one node. Each
// output may be used alone or with the others; the backward runs once, after every use of
// every output has contributed its gradient. An undefined output (one the op did not make
// this call) is skipped; its gradient reaches the backward undefined.
void record_multi(const char* name, const std::vector<Tensor*>& outputs,
                  const std::vector<Tensor>& inputs, MultiBackwardFn fn);

// `out`'s node (if it has one) reads these tensors in its backward: see Node::add_saved.
void mark_saved(const Tensor& out, const std::vector<Tensor>& saved);

// Runs the graph behind `root` in reverse topological order and accumulates into .grad
// of the leaves. `grad` may be undefined when root has one element (it is then 1).
void backward(const Tensor& root, const Tensor& grad, bool retain_graph);

// The gradients of root with respect to `inputs` (torch.autograd.grad, tf.GradientTape's
// gradient): the same walk as backward, but nothing accumulates into any .grad; each input,
// a leaf or an intermediate result, gets the sum of what reaches it, or an undefined tensor
// where root does not depend on it.
std::vector<Tensor> grad(const Tensor& root, const std::vector<Tensor>& inputs,
                         const Tensor& grad_out, bool retain_graph);

}  // namespace fastnn
