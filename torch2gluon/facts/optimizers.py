"""Runtime helpers: MXNet optimizers with torch's update rules, where MXNet has none.

Each is a template the translation defines after its imports (``MX`` stands
for ``mxnet``, ``ND`` for ``mxnet.nd``), registered under the name the
Trainer is given. Each is checked against torch in tests/test_numeric_optim.py.
"""

from __future__ import annotations


# the registered name of TorchAdadelta (TORCH_ADADELTA_CLASS)
TORCH_ADADELTA = "torchadadelta"


# torch's Adadelta update as an MXNet optimizer (MX: mxnet, ND: mxnet.nd)
TORCH_ADADELTA_CLASS = '''
@MX.optimizer.register
class TorchAdadelta(MX.optimizer.Optimizer):
    """torch.optim.Adadelta's update (added by torch2gluon): MXNet's AdaDelta
    ignores the learning rate and applies weight decay outside the step."""

    def __init__(self, rho=0.9, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (
            ND.zeros(weight.shape, weight.context),
            ND.zeros(weight.shape, weight.context),
        )

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        grad = grad * self.rescale_grad
        if self.clip_gradient is not None:
            grad = ND.clip(grad, -self.clip_gradient, self.clip_gradient)
        grad = grad + wd * weight
        square_avg, acc_delta = state
        square_avg[:] = self.rho * square_avg + (1 - self.rho) * grad * grad
        delta = (
            ND.sqrt(acc_delta + self.epsilon)
            / ND.sqrt(square_avg + self.epsilon)
            * grad
        )
        acc_delta[:] = self.rho * acc_delta + (1 - self.rho) * delta * delta
        weight[:] -= lr * delta
'''.lstrip()


# the registered name of TorchSGD (TORCH_SGD_CLASS)
TORCH_SGD = "torchsgd"


# torch's SGD update as an MXNet optimizer: the momentum buffer holds
# gradients and the learning rate is applied at each step
TORCH_SGD_CLASS = '''
@MX.optimizer.register
class TorchSGD(MX.optimizer.Optimizer):
    """torch.optim.SGD's update (added by torch2gluon): the momentum buffer
    holds gradients and the learning rate is applied at each step (MXNet's
    buffer holds lr * grad, so a learning-rate change is not neutral there)."""

    def __init__(self, momentum=0.0, dampening=0.0, nesterov=False, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov

    def create_state(self, index, weight):
        return ND.zeros(weight.shape, weight.context)

    def update(self, index, weight, grad, buf):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        grad = grad * self.rescale_grad
        if wd != 0:
            grad += wd * weight
        if self.momentum != 0:
            if self._index_update_count[index] == 1:
                buf[:] = grad
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        weight -= lr * grad
'''.lstrip()


# the registered name of TorchAdam (TORCH_ADAM_CLASS)
TORCH_ADAM = "torchadam"


# torch's Adam/AdamW update as an MXNet optimizer
TORCH_ADAM_CLASS = '''
@MX.optimizer.register
class TorchAdam(MX.optimizer.Optimizer):
    """torch.optim.Adam's and AdamW's update (added by torch2gluon).

    MXNet's adam adds epsilon before the bias correction and has no decoupled
    weight decay; its fused kernel is used with torch's epsilon scaled by
    sqrt(1 - beta2**t), and the gradient and learning rate rescaled so that
    its float32 weights 1 - float32(beta) equal torch's float32(1 - beta)."""

    def __init__(
        self,
        beta1=0.9,
        beta2=0.999,
        epsilon=1e-8,
        decoupled=False,
        amsgrad=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.decoupled = decoupled
        self.amsgrad = amsgrad
        self._scaled = (None, None)  # the last (beta1, beta2) and their scales

    def create_state(self, index, weight):
        n = 3 if self.amsgrad else 2
        return tuple(ND.zeros(weight.shape, weight.context) for _ in range(n))

    def _scales(self):
        """The kernel weighs g by 1 - float32(beta1) and g*g by
        1 - float32(beta2), torch by float32(1 - beta1), float32(1 - beta2)."""
        b1, b2 = self.beta1, self.beta2
        if self._scaled[0] != (b1, b2):
            f = [float(v) for v in ND.array([b1, b2, 1 - b1, 1 - b2]).asnumpy()]
            self._scaled = ((b1, b2), ((f[3] / (1 - f[1])) ** 0.5, (1 - f[0]) / f[2]))
        return self._scaled[1]

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        if wd != 0 and self.decoupled:
            weight *= 1 - lr * wd
            wd = 0.0
        c1, c2 = 1 - self.beta1**t, (1 - self.beta2**t) ** 0.5
        if not self.amsgrad:
            k, r1 = self._scales()
            ND.adam_update(
                weight,
                grad,
                state[0],
                state[1],
                out=weight,
                lr=lr * c2 / (c1 * k * r1),
                wd=wd * k,
                beta1=self.beta1,
                beta2=self.beta2,
                epsilon=self.epsilon * c2,
                rescale_grad=self.rescale_grad * k,
            )
            return
        grad = grad * self.rescale_grad
        if wd != 0:
            grad += wd * weight
        mean, var, max_var = state
        mean += (1 - self.beta1) * (grad - mean)
        var *= self.beta2
        var += (1 - self.beta2) * grad * grad
        max_var[:] = ND.maximum(max_var, var)
        weight -= lr / c1 * (mean / (ND.sqrt(max_var) / c2 + self.epsilon))
'''.lstrip()


# the registered name of TorchRMSprop (TORCH_RMSPROP_CLASS)
TORCH_RMSPROP = "torchrmsprop"


# torch's RMSprop update as an MXNet optimizer
TORCH_RMSPROP_CLASS = '''
@MX.optimizer.register
class TorchRMSprop(MX.optimizer.Optimizer):
    """torch.optim.RMSprop's update (added by torch2gluon): MXNet's RMSProp
    adds epsilon inside the square root, has no momentum unless centered, and
    its centered momentum buffer holds lr-scaled steps."""

    def __init__(
        self, alpha=0.99, epsilon=1e-8, momentum=0.0, centered=False, **kwargs
    ):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.epsilon = epsilon
        self.momentum = momentum
        self.centered = centered

    def create_state(self, index, weight):
        return tuple(ND.zeros(weight.shape, weight.context) for _ in range(3))

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        grad = grad * self.rescale_grad
        if wd != 0:
            grad += wd * weight
        square_avg, grad_avg, buf = state
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * grad * grad
        if self.centered:
            grad_avg += (1 - self.alpha) * (grad - grad_avg)
            avg = ND.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = ND.sqrt(square_avg)
        avg += self.epsilon
        if self.momentum > 0:
            buf *= self.momentum
            buf += grad / avg
            weight -= lr * buf
        else:
            weight -= lr * (grad / avg)
'''.lstrip()


# the registered name of TorchAdagrad (TORCH_ADAGRAD_CLASS)
TORCH_ADAGRAD = "torchadagrad"


# torch's Adagrad update as an MXNet optimizer
TORCH_ADAGRAD_CLASS = '''
@MX.optimizer.register
class TorchAdagrad(MX.optimizer.Optimizer):
    """torch.optim.Adagrad's update (added by torch2gluon): MXNet's AdaGrad
    adds epsilon inside the square root, applies weight decay after the
    adaptive step, and has no lr_decay or initial accumulator value."""

    def __init__(
        self, epsilon=1e-10, lr_decay=0.0, initial_accumulator_value=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.lr_decay = lr_decay
        self.initial_accumulator_value = initial_accumulator_value

    def create_state(self, index, weight):
        return ND.full(weight.shape, self.initial_accumulator_value, weight.context)

    def update(self, index, weight, grad, state_sum):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        step = self._index_update_count[index]
        grad = grad * self.rescale_grad
        if wd != 0:
            grad += wd * weight
        clr = lr / (1 + (step - 1) * self.lr_decay)
        state_sum += grad * grad
        weight -= clr * (grad / (ND.sqrt(state_sum) + self.epsilon))
'''.lstrip()


def shown(template: str) -> str:
    """A helper template as the translation spells it (in the examples)."""
    return template.replace("MX.", "mx.").replace("ND.", "nd.")


# a Trainer's algorithm -> the torch optimizer translated into it (second pass)
TORCH_CLASS_OF_ALGO = {
    "sgd": "torch.optim.SGD", "nag": "torch.optim.SGD", "adam": "torch.optim.Adam",
    "rmsprop": "torch.optim.RMSprop", "adagrad": "torch.optim.Adagrad", "adadelta": "torch.optim.Adadelta",
    TORCH_ADADELTA: "torch.optim.Adadelta", TORCH_SGD: "torch.optim.SGD", TORCH_ADAM: "torch.optim.Adam",
    TORCH_RMSPROP: "torch.optim.RMSprop", TORCH_ADAGRAD: "torch.optim.Adagrad",
}


# a helper optimizer's registered name -> (class name, template) for ctx.helper
HELPERS = {
    TORCH_ADADELTA: ("TorchAdadelta", TORCH_ADADELTA_CLASS),
    TORCH_SGD: ("TorchSGD", TORCH_SGD_CLASS),
    TORCH_ADAM: ("TorchAdam", TORCH_ADAM_CLASS),
    TORCH_RMSPROP: ("TorchRMSprop", TORCH_RMSPROP_CLASS),
    TORCH_ADAGRAD: ("TorchAdagrad", TORCH_ADAGRAD_CLASS),
}
