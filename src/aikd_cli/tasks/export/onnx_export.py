"""ONNX export: the dynamo exporter first, the TorchScript-based one if it fails, one self-describing file.

Every file has opset :data:`~aikd_cli.tasks.export.options.DEFAULT_OPSET` unless asked otherwise, a dynamic batch axis (and
dynamic height/width for detectors), axes named as in ``docs/export.md`` whichever exporter made
it, weights inside the file (no ``.onnx.data`` sidecar), and the aikd JSON record in
``metadata_props`` so that :class:`~aikd_cli.models.onnx_model.OnnxFaceModel` needs nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import torch

from aikd_cli.errors import ONNX_EXTRA_HINT, AikdError
from aikd_cli.models.checkpoints import METADATA_KEY
from aikd_cli.models.onnx_model import INPUT_NAME
from aikd_cli.tasks.export.errors import ExportFailed, reason
from aikd_cli.tasks.export.job import Dims, ExportJob

#: Opset 18: the dynamo exporter's native opset; run by onnxruntime >= 1.14, TensorRT >= 8.6,
#: OpenVINO >= 2023.0.


def _quiet():
    """Silence exporter chatter (deprecation notes, tracer warnings, progress prints): aikd reports
    which exporter ran and verifies the result itself."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    return stack


def _dynamo(job: ExportJob, module: torch.nn.Module, example: torch.Tensor, opset: int, preprocessing: bool):
    with _quiet():
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(job.outputs),
            dynamic_shapes=job.dynamic_shapes(preprocessing),
            verbose=False,
            optimize=True,
        )
    return program.model_proto


def _torchscript(
    job: ExportJob, module: torch.nn.Module, example: torch.Tensor, opset: int, preprocessing: bool
):
    import onnx

    names = {INPUT_NAME: job.input_dims(preprocessing), **job.output_dims()}
    dynamic_axes = {
        name: {i: d for i, d in enumerate(dims) if isinstance(d, str)} for name, dims in names.items()
    }
    buffer = io.BytesIO()
    with _quiet():
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=list(job.outputs),
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    return onnx.load_from_string(buffer.getvalue())


def to_onnx_proto(job: ExportJob, preprocessing: bool, opset: int, exporter: str = "auto"):
    """``(ModelProto, exporter used, why dynamo was not used or "")``; ``exporter`` is one of
    :data:`~aikd_cli.tasks.export.options.EXPORTERS` (checked with the options)."""
    module, example = job.module(preprocessing), job.example(preprocessing)
    fallback = ""
    if exporter in ("auto", "dynamo"):
        try:
            return _dynamo(job, module, example, opset, preprocessing), "dynamo", ""
        except Exception as exc:  # any exporter failure: fall back (auto) or report it (dynamo)
            if exporter == "dynamo":
                raise ExportFailed(
                    f"the dynamo ONNX exporter failed ({reason(exc)})", hint="try --exporter torchscript"
                ) from None
            fallback = f"dynamo exporter failed: {reason(exc)}"
    try:
        return _torchscript(job, module, example, opset, preprocessing), "torchscript", fallback
    except Exception as exc:
        tried = f"{fallback}; " if fallback else ""
        raise ExportFailed(
            f"{job.config.arch} cannot be exported to ONNX ({tried}TorchScript exporter: {reason(exc)})"
        ) from None


def name_axes(proto, dims: dict[str, Dims]) -> None:
    """Give the graph's inputs and outputs the documented axis names (the dynamo exporter invents
    symbolic ones like ``s0``); fixed sizes are left alone."""
    for value in list(proto.graph.input) + list(proto.graph.output):
        if value.name not in dims:
            continue
        shape = value.type.tensor_type.shape
        for dim, want in zip(shape.dim, dims[value.name], strict=False):
            if isinstance(want, str):
                dim.dim_param = want


def to_fp16(proto):
    """Weights and activations in float16, inputs and outputs kept float32 (so callers do not
    change); uses onnxruntime's converter."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _quiet():
        proto = convert_float_to_float16(proto, keep_io_types=True)
    _sort_nodes(proto.graph)  # the converter appends its input casts at the end of the node list
    return proto


def _sort_nodes(graph) -> None:
    """Reorder ``graph.node`` topologically (stable), as the ONNX spec requires."""
    ready = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        rest = []
        for n in pending:
            if all(i in ready for i in n.input):
                ordered.append(n)
                ready.update(n.output)
            else:
                rest.append(n)
        if len(rest) == len(pending):
            return  # a cycle or a subgraph reference: leave it to the checker to report
        pending = rest
    nodes = [type(n)() for n in ordered]
    for new, old in zip(nodes, ordered, strict=True):
        new.CopyFrom(old)
    del graph.node[:]
    graph.node.extend(nodes)


def export_onnx(job: ExportJob, path: Path) -> dict:
    """Write ``path``; return what the summary and the model card report."""
    try:
        import onnx
    except ImportError:
        raise AikdError(
            "ONNX export needs the onnx package, which is not installed", hint=ONNX_EXTRA_HINT
        ) from None
    preprocessing = job.preprocessing
    proto, exporter, fallback = to_onnx_proto(job, preprocessing, job.opset, job.exporter)
    name_axes(proto, {INPUT_NAME: job.input_dims(preprocessing), **job.output_dims()})
    precision = "fp16" if job.fp16 else "fp32"
    if job.fp16:
        proto = to_fp16(proto)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), job.opset)
    record = job.graph_record(preprocessing, precision, exporter, opset)
    del proto.metadata_props[:]
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(record))
    proto.doc_string = f"aikd export of {job.loaded.source} ({job.config.arch}, {job.config.task})"
    try:
        onnx.checker.check_model(proto)
        onnx.save_model(proto, str(path), save_as_external_data=False)
    except Exception as exc:
        raise ExportFailed(
            f"{path.name}: the exported graph is not a valid single-file ONNX model ({reason(exc)})"
        ) from None
    details = {"exporter": exporter, "opset": opset, "precision": precision, "preprocessing": preprocessing}
    if fallback:
        details["fallback_reason"] = fallback
    return details
