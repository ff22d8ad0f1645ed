// The autograd graph. An op that runs with grad mode on and an input that requires grad
// records one Node: its backward function (a closure holding what the backward needs,
// saved as detached tensors so that no output refers back to its own node) and one edge
// per input, to the node that produced it or to the leaf whose .grad it accumulates into.
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

class Node {
 public:
  struct Edge {
    std::shared_ptr<Node> node;        // the input's producer, or
    std::shared_ptr<TensorImpl> leaf;  // the leaf tensor itself; both null: no grad needed
  };

  Node(const char* name, BackwardFn fn) : name_(name), fn_(std::move(fn)) {}
  const char* name() const { return name_.c_str(); }
  const std::vector<Edge>& edges() const { return edges_; }
  const std::vector<bool>& needs() const { return needs_; }
  bool released() const { return released_; }

  std::vector<Tensor> apply(const Tensor& grad_out);
  // Frees what the backward saved; a later apply raises.
  void release();

 private:
  friend void record(const char*, Tensor&, const std::vector<Tensor>&, BackwardFn);
  std::string name_;  // a copy: op names may come from Python strings
  BackwardFn fn_;
  std::vector<Edge> edges_;
  std::vector<bool> needs_;
  bool released_ = false;
};

// Whether an op over these inputs must record a node.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `out` the result of a recorded op over `inputs` (undefined inputs allowed).
void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs, BackwardFn fn);

// Runs the graph behind `root` in reverse topological order and accumulates into .grad
// of the leaves. `grad` may be undefined when root has one element (it is then 1).
void backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace fastnn
