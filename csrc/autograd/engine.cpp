#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "autograd/node.h"
#include "core/launch.h"
#include "core/backend.h"

namespace fastnn {

namespace {
thread_local bool grad_mode = true;
}

bool grad_enabled() {
  return grad_mode;
}
void set_grad_enabled(bool enabled) {
  grad_mode = enabled;
}

std::vector<Tensor> Node::apply(const std::vector<Tensor>& grads_out) {
  FASTNN_CHECK(!released_, Runtime, "backward: trying to backward through the graph a second ",
               "time (op '", name_, "'): its saved tensors were freed after the first backward; ",
               "pass retain_graph=True to the first backward() to keep them");
  for (const Saved& s : saved_)
    FASTNN_CHECK(s.storage->version == s.version, Runtime,
                 "backward: one of the variables needed for gradient computation has been "
                 "modified by an inplace operation: the ", dtype_name(s.dtype), " tensor of shape ",
                 shape_str(s.shape), " saved by '", name_, "' is at version ", s.storage->version,
                 "; expected version ", s.version, " instead. Hint: use an out-of-place op (x = x + y "
                 "instead of x += y) or clone() the tensor before modifying it");
  return multi_fn_ ? multi_fn_(grads_out, needs_) : fn_(grads_out[0], needs_);
}

void Node::release() {
  fn_ = nullptr;
  multi_fn_ = nullptr;
  saved_.clear();
  released_ = true;
}

void Node::add_saved(const Tensor& t) {
  if (t.defined()) saved_.push_back({t.storage(), t.version(), t.shape(), t.dtype()});
}

void mark_saved(const Tensor& out, const std::vector<Tensor>& saved) {
  if (!out.defined() || !out.grad_fn()) return;
  for (const Tensor& t : saved) out.grad_fn()->add_saved(t);
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void add_edges(Node& node, const std::vector<Tensor>& inputs) {
  for (const Tensor& in : inputs) {
    Node::Edge edge;
    bool need = in.defined() && in.requires_grad();
    if (need) {
      if (in.grad_fn()) {
        edge.node = in.grad_fn();
        edge.output = in.output_nr();
      } else {
        edge.leaf = in.impl_ptr();
      }
    }
    node.edges_.push_back(std::move(edge));
    node.needs_.push_back(need);
  }
}

void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs, BackwardFn fn) {
  auto node = std::make_shared<Node>(name, std::move(fn));
  add_edges(*node, inputs);
  out.impl()->requires_grad = true;
  out.set_grad_fn(std::move(node));
}

void record_multi(const char* name, const std::vector<Tensor*>& outputs,
                  const std::vector<Tensor>& inputs, MultiBackwardFn fn) {
  auto node = std::make_shared<Node>(name, std::move(fn), static_cast<int>(outputs.size()));
  add_edges(*node, inputs);
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k]->defined()) continue;  // an output the op did not make this time
    outputs[k]->impl()->requires_grad = true;
    outputs[k]->set_grad_fn(node, static_cast<int>(k));
  }
}

namespace {

Tensor add_tensors(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  FASTNN_LAUNCH(backend_of(a), binary_forward, BinaryOp::Add, a, b, out);
  return out;
}

// Leaf gradients accumulate in place across backward calls (PyTorch's rule). The first
// gradient is adopted without a copy when nothing else refers to its memory.
void accumulate_into_leaf(TensorImpl* leaf, const Tensor& g) {
  if (!leaf->grad) {
    bool shared = g.storage().use_count() > 1;
    Tensor owned = shared ? g.clone() : g.detach();
    leaf->grad = owned.impl_ptr();
    return;
  }
  Tensor acc(leaf->grad);
  FASTNN_LAUNCH(backend_of(acc), axpby, 1.0, g, 1.0, acc);
}

// Nodes reachable from root, each after every node that feeds it a gradient (reverse
// post-order of an iterative depth-first walk, so deep graphs cannot overflow the stack).
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> post;
  std::unordered_set<Node*> seen{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->edges().size()) {
      Node* child = node->edges()[next++].node.get();
      if (child && seen.insert(child).second) stack.push_back({child, 0});
      continue;
    }
    post.push_back(node);
    stack.pop_back();
  }
  return {post.rbegin(), post.rend()};
}

}  // namespace

namespace {

// Where the walk leaves what reaches a leaf, and what an intermediate tensor (node, output)
// receives in total before its node runs (only grad() asks for those).
struct GradientSinks {
  std::function<void(TensorImpl* leaf, const Tensor& g)> leaf;
  std::function<void(Node* node, const std::vector<Tensor>& grads_out)> node_outputs;
};

// The gradient seeded at root: grad_in checked, or ones for a one-element root.
Tensor seed_gradient(const Tensor& root, const Tensor& grad_in, const char* who) {
  FASTNN_CHECK(root.requires_grad(), Runtime, who,
               ": the tensor does not require grad and has no grad_fn; call "
               "requires_grad_() on an input, or compute it outside fn.no_grad()");
  if (!grad_in.defined()) {
    FASTNN_CHECK(root.numel() == 1, Runtime, who,
                 ": gradient can be implicitly created only for a tensor with one "
                 "element, got shape ",
                 shape_str(root.shape()), "; pass gradient=");
    return Tensor::full(root.shape(), 1.0, root.dtype(), root.device());
  }
  FASTNN_CHECK(grad_in.shape() == root.shape(), Value, who, ": expected 'gradient' of shape ",
               shape_str(root.shape()), ", got ", shape_str(grad_in.shape()));
  check_same_dtype(root, grad_in, who, "gradient");
  check_same_device(root, grad_in, who, "gradient");
  return grad_in;
}

void walk(const Tensor& root, const Tensor& seed, bool retain_graph, const GradientSinks& sinks) {
  NoGradGuard no_grad;
  if (root.is_leaf()) {
    sinks.leaf(root.impl(), seed);
    return;
  }
  Node* root_node = root.grad_fn().get();
  FASTNN_CHECK(!root_node->released(), Runtime,
               "backward: trying to backward through the graph a second time (op '",
               root_node->name(),
               "'): its saved tensors were freed after the first backward; pass "
               "retain_graph=True to the first backward() to keep them");
  std::vector<Node*> order = topological_order(root_node);
  // Keep every node alive for the walk even if releasing a closure drops the last owner.
  std::vector<std::shared_ptr<Node>> keep{root.grad_fn()};
  for (Node* n : order)
    for (const auto& e : n->edges())
      if (e.node) keep.push_back(e.node);

  // Gradients waiting for each node, one slot per output (undefined until one arrives).
  std::unordered_map<Node*, std::vector<Tensor>> pending;
  pending[root_node].resize(root_node->num_outputs());
  pending[root_node][root.output_nr()] = seed;
  for (Node* node : order) {
    auto it = pending.find(node);
    if (it == pending.end()) continue;  // no gradient reached it
    std::vector<Tensor> g = std::move(it->second);
    pending.erase(it);
    if (sinks.node_outputs) sinks.node_outputs(node, g);
    std::vector<Tensor> grads = node->apply(g);
    for (size_t i = 0; i < node->edges().size(); ++i) {
      if (!node->needs()[i] || i >= grads.size() || !grads[i].defined()) continue;
      const Node::Edge& edge = node->edges()[i];
      if (edge.node) {
        std::vector<Tensor>& slots = pending[edge.node.get()];
        if (slots.empty()) slots.resize(edge.node->num_outputs());
        Tensor& slot = slots[edge.output];
        slot = slot.defined() ? add_tensors(slot, grads[i]) : grads[i];
      } else if (edge.leaf) {
        sinks.leaf(edge.leaf.get(), grads[i]);
      }
    }
    g.clear();
    if (!retain_graph) node->release();
  }
  if (!retain_graph)
    for (Node* node : order) node->release();
}

}  // namespace

void backward(const Tensor& root, const Tensor& grad_in, bool retain_graph) {
  Tensor grad = seed_gradient(root, grad_in, "backward");
  walk(root, grad, retain_graph, {accumulate_into_leaf, nullptr});
}

std::vector<Tensor> grad(const Tensor& root, const std::vector<Tensor>& inputs,
                         const Tensor& grad_out, bool retain_graph) {
  Tensor seed = seed_gradient(root, grad_out, "grad");
  // Where each input's gradient is read: its node's output (or the leaf itself); for a
  // deferred permute's output, its source's, permuted (see PermutedFrom).
  struct Watch {
    Node* node = nullptr;
    int output = 0;
    TensorImpl* leaf = nullptr;
    const StridedLayout* permute = nullptr;
  };
  std::vector<Watch> watch(inputs.size());
  std::vector<std::shared_ptr<void>> keep_alive;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = inputs[k];
    if (!t.defined()) continue;
    watch[k] = {t.grad_fn().get(), t.output_nr(), t.is_leaf() ? t.impl() : nullptr, nullptr};
    const PermutedFrom* from = live_permuted_from(t);
    if (from == nullptr) continue;
    if (std::shared_ptr<Node> node = from->source_node.lock()) {
      watch[k] = {node.get(), from->source_output, nullptr, &from->layout};
      keep_alive.push_back(node);
    } else if (std::shared_ptr<TensorImpl> leaf = from->source_leaf.lock()) {
      watch[k] = {nullptr, 0, leaf.get(), &from->layout};
      keep_alive.push_back(leaf);
    }
  }
  std::vector<Tensor> out(inputs.size());
  // Sums of what reaches each input; an input may be listed twice.
  auto add_to = [&](size_t k, const Tensor& g) {
    out[k] = out[k].defined() ? add_tensors(out[k], g) : g;
  };
  GradientSinks sinks;
  sinks.leaf = [&](TensorImpl* leaf, const Tensor& g) {
    for (size_t k = 0; k < inputs.size(); ++k)
      if (watch[k].leaf != nullptr && watch[k].leaf == leaf) add_to(k, g);
  };
  sinks.node_outputs = [&](Node* node, const std::vector<Tensor>& grads_out) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (watch[k].node == node) {
        const Tensor& g = grads_out[static_cast<size_t>(watch[k].output)];
        if (g.defined()) add_to(k, g);
      }
    }
  };
  walk(root, seed, retain_graph, sinks);
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!out[k].defined() || watch[k].permute == nullptr) continue;
    const StridedLayout& L = *watch[k].permute;
    Tensor permuted = Tensor::empty(layout_shape(L), out[k].dtype(), out[k].device());
    FASTNN_LAUNCH(backend_of(out[k]), strided_copy, out[k], L, permuted);
    out[k] = permuted;
  }
  // A gradient adopted from an op's buffer may share memory with a saved tensor: hand out
  // copies where anything else still refers to it.
  for (Tensor& g : out)
    if (g.defined() && g.storage().use_count() > 1) g = g.clone();
  return out;
}

}  // namespace fastnn
