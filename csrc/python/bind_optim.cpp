// Optimizers: the C++ classes with their configs; torch-style and Keras-style wrappers
// (python/fastnn/optim.py, optimizers.py) set the defaults.
#include <pybind11/stl.h>

#include <utility>

#include "ops/optimizer.h"
#include "python/convert.h"

namespace fastnn::python {

// config/set_config live in the Configured<> base, which pybind11 does not know: member
// pointers to them would be called on an unadjusted pointer. Going through the derived type
// lets the compiler adjust it.
template <class Opt>
auto config_of(const Opt& o) {
  return o.config();
}
template <class Opt>
void set_config_of(Opt& o, const decltype(std::declval<const Opt&>().config())& c) {
  o.set_config(c);
}

void bind_optim(py::module_& m) {
  py::class_<SGDConfig>(m, "SGDConfig")
      .def(py::init<>())
      .def_readwrite("lr", &SGDConfig::lr)
      .def_readwrite("momentum", &SGDConfig::momentum)
      .def_readwrite("dampening", &SGDConfig::dampening)
      .def_readwrite("weight_decay", &SGDConfig::weight_decay)
      .def_readwrite("nesterov", &SGDConfig::nesterov)
      .def_readwrite("decoupled_weight_decay", &SGDConfig::decoupled_weight_decay);
  py::class_<AdamConfig>(m, "AdamConfig")
      .def(py::init<>())
      .def_readwrite("lr", &AdamConfig::lr)
      .def_readwrite("beta1", &AdamConfig::beta1)
      .def_readwrite("beta2", &AdamConfig::beta2)
      .def_readwrite("eps", &AdamConfig::eps)
      .def_readwrite("weight_decay", &AdamConfig::weight_decay)
      .def_readwrite("decoupled_weight_decay", &AdamConfig::decoupled_weight_decay)
      .def_readwrite("amsgrad", &AdamConfig::amsgrad)
      .def_readwrite("epsilon_hat", &AdamConfig::epsilon_hat);
  py::class_<RMSpropConfig>(m, "RMSpropConfig")
      .def(py::init<>())
      .def_readwrite("lr", &RMSpropConfig::lr)
      .def_readwrite("alpha", &RMSpropConfig::alpha)
      .def_readwrite("eps", &RMSpropConfig::eps)
      .def_readwrite("weight_decay", &RMSpropConfig::weight_decay)
      .def_readwrite("momentum", &RMSpropConfig::momentum)
      .def_readwrite("centered", &RMSpropConfig::centered)
      .def_readwrite("decoupled_weight_decay", &RMSpropConfig::decoupled_weight_decay)
      .def_readwrite("eps_inside_sqrt", &RMSpropConfig::eps_inside_sqrt);
  py::class_<AdagradConfig>(m, "AdagradConfig")
      .def(py::init<>())
      .def_readwrite("lr", &AdagradConfig::lr)
      .def_readwrite("lr_decay", &AdagradConfig::lr_decay)
      .def_readwrite("weight_decay", &AdagradConfig::weight_decay)
      .def_readwrite("eps", &AdagradConfig::eps)
      .def_readwrite("decoupled_weight_decay", &AdagradConfig::decoupled_weight_decay)
      .def_readwrite("eps_inside_sqrt", &AdagradConfig::eps_inside_sqrt);

  py::class_<Optimizer, std::shared_ptr<Optimizer>>(m, "Optimizer")
      .def("step", &Optimizer::step, "Updates every parameter that has a gradient.")
      .def("zero_grad", &Optimizer::zero_grad, py::arg("set_to_none") = true)
      .def_property_readonly("params", &Optimizer::params)
      .def("state", &Optimizer::state, py::arg("index"))
      .def("steps", &Optimizer::steps, py::arg("index"))
      .def("set_steps", &Optimizer::set_steps, py::arg("index"), py::arg("steps"))
      .def("ensure_state", &Optimizer::ensure_state, py::arg("index"),
           "Creates the parameter's state (zeros) as its first update would.");
  py::class_<SGD, Optimizer, std::shared_ptr<SGD>>(m, "SGD")
      .def(py::init<std::vector<Tensor>, SGDConfig>(), py::arg("params"), py::arg("config"))
      .def_property("config", config_of<SGD>, set_config_of<SGD>);
  py::class_<Adam, Optimizer, std::shared_ptr<Adam>>(m, "Adam")
      .def(py::init([](std::vector<Tensor> params, AdamConfig c) {
             return std::make_shared<Adam>(std::move(params), c,
                                           c.decoupled_weight_decay ? "AdamW" : "Adam");
           }),
           py::arg("params"), py::arg("config"))
      .def_property("config", config_of<Adam>, set_config_of<Adam>);
  py::class_<RMSprop, Optimizer, std::shared_ptr<RMSprop>>(m, "RMSprop")
      .def(py::init<std::vector<Tensor>, RMSpropConfig>(), py::arg("params"), py::arg("config"))
      .def_property("config", config_of<RMSprop>, set_config_of<RMSprop>);
  py::class_<Adagrad, Optimizer, std::shared_ptr<Adagrad>>(m, "Adagrad")
      .def(py::init<std::vector<Tensor>, AdagradConfig, double>(), py::arg("params"),
           py::arg("config"), py::arg("initial_accumulator_value") = 0.0)
      .def_property("config", config_of<Adagrad>, set_config_of<Adagrad>);
}

}  // namespace fastnn::python
