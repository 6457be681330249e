"""Capture and edit module inputs / outputs by name; hooks are always removed.

    >>> with Hooks(model, capture_outputs=["model.layers.3.mlp"]) as rec:
    ...     model(ids)
    >>> rec.outputs["model.layers.3.mlp"]                       # (B, T, d), detached

    >>> def zero_first(x, name):                                 # edit callback: tensor -> tensor
    ...     x = x.clone(); x[:, 0] = 0; return x
    >>> with Hooks(model, edit_outputs={"model.layers.3.mlp": zero_first}):
    ...     model(ids)

Blocks and attention may return a tensor or a tuple whose first item is the hidden state;
`first_tensor` / `replace_first` are the only places that know this.
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch

Edit = Callable[[torch.Tensor, str], torch.Tensor | None]


def first_tensor(value) -> torch.Tensor:
    """The hidden state inside a module's output or positional input (tensor or tuple)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    raise TypeError(f"Cannot find a tensor in a value of type {type(value).__name__}")


def replace_first(value, tensor: torch.Tensor):
    """`value` with its hidden state replaced by `tensor`, keeping the container type."""
    if isinstance(value, torch.Tensor):
        return tensor
    return type(value)((tensor, *value[1:]))


class Hooks:
    """Context manager registering forward (pre-)hooks by module name.

    capture_outputs / capture_inputs: names whose output / first input is stored in
        rec.outputs / rec.inputs (detached unless keep_grad=True).
    edit_outputs / edit_inputs: name -> callback(tensor, name) returning a replacement
        (or None to keep it). Edits run before capture, so captures see edited values.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        capture_outputs: Iterable[str] = (),
        capture_inputs: Iterable[str] = (),
        edit_outputs: dict[str, Edit] | None = None,
        edit_inputs: dict[str, Edit] | None = None,
        keep_grad: bool = False,
    ):
        self.model = model
        self.capture_outputs = list(capture_outputs)
        self.capture_inputs = list(capture_inputs)
        self.edit_outputs = dict(edit_outputs or {})
        self.edit_inputs = dict(edit_inputs or {})
        self.keep_grad = keep_grad
        self.outputs: dict[str, torch.Tensor] = {}
        self.inputs: dict[str, torch.Tensor] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _store(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if self.keep_grad else tensor.detach()

    def __enter__(self) -> "Hooks":
        try:
            for name in dict.fromkeys([*self.capture_inputs, *self.edit_inputs]):
                module = self.model.get_submodule(name)
                self._handles.append(module.register_forward_pre_hook(self._pre_hook(name)))
            for name in dict.fromkeys([*self.capture_outputs, *self.edit_outputs]):
                module = self.model.get_submodule(name)
                self._handles.append(module.register_forward_hook(self._post_hook(name)))
        except BaseException:
            self.remove()
            raise
        return self

    def _pre_hook(self, name: str):
        def hook(module, args):
            if not args:
                return None
            value = args[0]
            changed = False
            if name in self.edit_inputs:
                edited = self.edit_inputs[name](value, name)
                if edited is not None:
                    value, changed = edited, True
            if name in self.capture_inputs:
                self.inputs[name] = self._store(value)
            return (value, *args[1:]) if changed else None

        return hook

    def _post_hook(self, name: str):
        def hook(module, args, output):
            changed = False
            if name in self.edit_outputs:
                edited = self.edit_outputs[name](first_tensor(output), name)
                if edited is not None:
                    output, changed = replace_first(output, edited), True
            if name in self.capture_outputs:
                self.outputs[name] = self._store(first_tensor(output))
            return output if changed else None

        return hook

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __exit__(self, *exc) -> None:
        self.remove()


def hook_count(model: torch.nn.Module) -> int:
    """Number of forward hooks and pre-hooks left on any module (0 after a clean run)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
