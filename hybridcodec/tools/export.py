"""Export a hybridcodec Keras network to ONNX, for the light runtime (runtime.py).

One function, ``to_onnx``, walks the functional graph of any model in
models.py layer by layer and writes the same arithmetic as ONNX operators,
in float32 whatever the model's dtype policy (bfloat16 networks run in
float32 on CPUs without bfloat16 anyway, and "same pixels everywhere" needs
one precision). Image sizes stay dynamic, scale 2's bicubic upsampling
included.

Why our own walker instead of ``keras.Model.export(format="onnx")``: that
goes through tf2onnx, which pins an old protobuf that TensorFlow 2.21 does not
install with, and it cannot export the bicubic ``UpSampling2D`` with dynamic
sizes (``OperatorNotAllowedInGraphError``). Our networks use a dozen layer
types, each a few ONNX nodes here; an unknown layer is refused by name.

The graph keeps the Keras contract (models.py): inputs and output are
channels-last float32 in [0, 1], ``decoded`` (N, h, w, 3) and ``quality``
(N, 1) for a restoration model, ``image`` for a pre-processor. Inside it
runs channels-first (ONNX's convolution layout): one transpose in, one out.

This is a tool: it needs keras and onnx (``pip install hybridcodec[train]``);
runtime modules never import it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPSET = 17
TF_TO_ORT_INTERPOLATION = {"bicubic": "cubic", "bilinear": "linear", "nearest": "nearest"}


class _Graph:
    """Collects ONNX nodes and initializers, naming each value once."""

    def __init__(self):
        self.nodes, self.initializers, self._count = [], [], 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value, dtype=np.int64, hint="c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attributes) -> str:
        from onnx import helper

        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attributes))
        return out

    def dim(self, x: str, axis: int) -> str:
        """Dimension ``axis`` of ``x`` as a (1,) int64 tensor."""
        return self.op("Gather", [self.op("Shape", [x]), self.const([axis])], axis=0)


def _conv(g: _Graph, layer, x: str) -> str:
    kernel = np.asarray(layer.kernel.numpy(), np.float32)  # (kh, kw, cin, cout)
    kh, kw = kernel.shape[:2]
    strides, dilations = list(layer.strides), list(layer.dilation_rate)
    if layer.padding != "same" or layer.groups != 1 or layer.data_format != "channels_last":
        raise ValueError(f"cannot export {layer.name}: padding {layer.padding}, groups {layer.groups}")
    attributes = {"kernel_shape": [kh, kw], "strides": strides, "dilations": dilations}
    if strides == [1, 1]:
        # TensorFlow's "same" for stride 1 pads (k - 1) * d / 2 on each side (odd kernels)
        ph, pw = (kh - 1) * dilations[0] // 2, (kw - 1) * dilations[1] // 2
        attributes["pads"] = [ph, pw, (kh - 1) * dilations[0] - ph, (kw - 1) * dilations[1] - pw]
    else:
        attributes["auto_pad"] = "SAME_UPPER"  # TensorFlow puts the odd pixel of padding at the end
    inputs = [x, g.const(kernel.transpose(3, 2, 0, 1), np.float32, "kernel")]
    if layer.use_bias:
        inputs.append(g.const(layer.bias.numpy(), np.float32, "bias"))
    y = g.op("Conv", inputs, **attributes)
    activation = layer.activation.__name__
    if activation == "relu":
        return g.op("Relu", [y])
    if activation != "linear":
        raise ValueError(f"cannot export {layer.name}: activation {activation}")
    return y


def _quality_plane(g: _Graph, x: str, quality: str, features: int) -> str:
    plane_shape = g.op("Concat", [g.dim(x, 0), g.const([features]), g.dim(x, 2), g.dim(x, 3)], axis=0)
    plane = g.op("Expand", [g.op("Reshape", [quality, g.const([-1, features, 1, 1])]), plane_shape])
    return g.op("Concat", [x, plane], axis=1)


def _block_position(g: _Graph, x: str, period: int) -> str:
    """One-hot planes of row mod period and column mod period (models.BlockPosition)."""
    full = g.op("Concat", [g.dim(x, 0), g.const([period]), g.dim(x, 2), g.dim(x, 3)], axis=0)
    channel = g.const(np.arange(period).reshape(1, period, 1, 1))
    planes = []
    for axis, shape in ((2, [1, 1, -1, 1]), (3, [1, 1, 1, -1])):
        size = g.op("Squeeze", [g.dim(x, axis), g.const([0])])
        index = g.op("Range", [g.const(0), size, g.const(1)])
        phase = g.op("Reshape", [g.op("Mod", [index, g.const(period)]), g.const(shape)])
        one_hot = g.op("Cast", [g.op("Equal", [phase, channel])], to=1)  # 1: float32
        planes.append(g.op("Expand", [one_hot, full]))
    return g.op("Concat", [x, *planes], axis=1)


def _pad_to_multiple(g: _Graph, x: str, multiple: int) -> str:
    m = g.const([multiple])
    extra = [g.op("Mod", [g.op("Sub", [m, g.op("Mod", [g.dim(x, axis), m])]), m]) for axis in (2, 3)]
    pads = g.op("Concat", [g.const([0, 0, 0, 0, 0, 0]), *extra], axis=0)
    return g.op("Pad", [x, pads], mode="edge")


def _crop_like(g: _Graph, x: str, reference: str, scale: int) -> str:
    ends = g.op("Mul", [g.op("Concat", [g.dim(reference, 2), g.dim(reference, 3)], axis=0), g.const([scale, scale])])
    return g.op("Slice", [x, g.const([0, 0]), ends, g.const([2, 3])])


def _upsample(g: _Graph, layer, x: str) -> str:
    mode = TF_TO_ORT_INTERPOLATION.get(layer.interpolation)
    if mode is None:
        raise ValueError(f"cannot export {layer.name}: interpolation {layer.interpolation}")
    sh, sw = layer.size
    scales = g.const([1.0, 1.0, sh, sw], np.float32)
    if mode == "nearest":
        return g.op("Resize", [x, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor")
    # tf.image.resize (Keys cubic a = -0.5, half-pixel centres) drops the taps
    # that fall outside the image and renormalises: exclude_outside=1.
    return g.op("Resize", [x, "", scales], mode=mode, coordinate_transformation_mode="half_pixel",
                cubic_coeff_a=-0.5, exclude_outside=1)


def _batch_norm(g: _Graph, layer, x: str) -> str:
    mean, var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    gamma = layer.gamma.numpy() if layer.scale else np.ones_like(mean)
    beta = layer.beta.numpy() if layer.center else np.zeros_like(mean)
    params = [g.const(v, np.float32, "bn") for v in (gamma, beta, mean, var)]
    return g.op("BatchNormalization", [x, *params], epsilon=float(layer.epsilon))


def _layer(g: _Graph, layer, inputs: list[str]) -> str:
    """The ONNX value of one Keras layer's output (channels first)."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        return _conv(g, layer, inputs[0])
    if kind == "ReLU":
        if layer.max_value is not None or layer.negative_slope or layer.threshold:
            raise ValueError(f"cannot export {layer.name}: a ReLU with limits")
        return g.op("Relu", inputs)
    if kind == "Add":
        return g.op("Sum", inputs)
    if kind == "Concatenate":
        if layer.axis not in (-1, 3):
            raise ValueError(f"cannot export {layer.name}: concatenation on axis {layer.axis}")
        return g.op("Concat", inputs, axis=1)
    if kind == "QualityPlane":
        return _quality_plane(g, *inputs, int(layer._inbound_nodes[0].input_tensors[1].shape[-1]))
    if kind == "BlockPosition":
        return _block_position(g, inputs[0], layer.period)
    if kind == "PixelShuffle":
        return g.op("DepthToSpace", inputs, blocksize=layer.factor, mode="DCR")
    if kind == "PixelUnshuffle":
        return g.op("SpaceToDepth", inputs, blocksize=layer.factor)
    if kind == "PadToMultiple":
        return _pad_to_multiple(g, inputs[0], layer.multiple)
    if kind == "CropLike":
        return _crop_like(g, *inputs, layer.scale)
    if kind == "UpSampling2D":
        return _upsample(g, layer, inputs[0])
    if kind == "AveragePooling2D":
        if layer.padding != "valid":
            raise ValueError(f"cannot export {layer.name}: padding {layer.padding}")
        return g.op("AveragePool", inputs, kernel_shape=list(layer.pool_size), strides=list(layer.strides))
    if kind == "BatchNormalization":
        return _batch_norm(g, layer, inputs[0])
    if kind == "ClipUnit":
        return g.op("Clip", [inputs[0], g.const(0.0, np.float32), g.const(1.0, np.float32)])
    raise ValueError(f"cannot export layer {layer.name} of type {kind}: the ONNX exporter does not know it")


def to_onnx(model):
    """The ONNX ``ModelProto`` of a hybridcodec Keras model (see the module docstring)."""
    import keras
    from onnx import TensorProto, checker, helper

    g = _Graph()
    values: dict[int, str] = {}  # id of a Keras tensor -> ONNX value name
    graph_inputs = []
    for tensor in model.inputs:
        name = tensor.name.split(":")[0]
        rank = len(tensor.shape)
        shape = ["N", "H", "W", tensor.shape[-1]] if rank == 4 else ["N", tensor.shape[-1]]
        graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        values[id(tensor)] = g.op("Transpose", [name], perm=[0, 3, 1, 2]) if rank == 4 else name
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        node = layer._inbound_nodes[0]
        out = _layer(g, layer, [values[id(t)] for t in node.input_tensors])
        values[id(node.output_tensors[0])] = out
    output_name = "compact" if getattr(model, "role", "post") == "pre" else "restored"
    g.nodes.append(helper.make_node("Transpose", [values[id(model.outputs[0])]], [output_name], perm=[0, 2, 3, 1]))
    graph = helper.make_graph(g.nodes, model.name, graph_inputs,
                              [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", "H2", "W2", 3])],
                              g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hybridcodec")
    proto.ir_version = 8  # readable by every onnxruntime that supports opset 17
    proto.metadata_props.add(key="scale", value=str(getattr(model, "scale", 1)))
    proto.metadata_props.add(key="role", value=getattr(model, "role", "post"))
    condition = getattr(model, "condition", "quality")
    if condition != "quality":  # files of the first contract stay byte for byte as shipped
        proto.metadata_props.add(key="condition", value=condition)
    checker.check_model(proto)
    return proto


def export(model, path: Path) -> Path:
    """Write ``model`` (Keras, or a ``.keras`` path) as an ONNX file at ``path``; returns ``path``."""
    import onnx

    if isinstance(model, (str, Path)):
        from ..zoo import load_keras_file

        model = load_keras_file(str(model))
    path = Path(path)
    onnx.save_model(to_onnx(model), str(path))
    return path


def float32_twin(model):
    """The same network with every layer in float32: the reference the
    exported file must match (a bfloat16 model's own output differs by more)."""
    config = model.get_config()
    if config.get("compute_dtype", "float32") == "float32":
        return model
    twin = type(model).from_config({**config, "compute_dtype": "float32"})
    twin.set_weights(model.get_weights())
    return twin


def quantize_int8(onnx_bytes: bytes, samples, float_convs=(-1,), calibration: str = "minmax",
                  ranges: dict | None = None) -> bytes:
    """The int8 twin of an exported network: ONNX Runtime's static QDQ
    quantization, per-channel signed weights and unsigned activations whose
    ranges come from ``samples`` (an iterable of input feeds, as the runtime
    is fed). A tool, like ``to_onnx``.

    Why int8: on a CPU with VNNI (or AMX) ONNX Runtime's integer convolutions
    run the 16x32 JPEG network 2.5 times faster than float32 (0.55-0.6 s ->
    0.2-0.25 s for 768x512 without AMX) for a few hundredths of a dB
    (docs/ROBUSTNESS.md). Why full-range weights rather than
    ``reduce_range``: 7-bit weights cost three times the PSNR (0.065 dB
    against 0.022 on ``choose/``); their only gain is on CPUs without VNNI,
    where ONNX Runtime's u8s8 kernel may saturate (its documentation). The
    output convolution stays float32: 8 bits over the residual's range cost
    0.08 dB at qualities 64-89, 0.02 kept float, for 1/32 of the arithmetic.
    ``ranges`` ({tensor: (low, high)}, from ``clipped_ranges``) replace the
    calibrated ranges of those tensors. ``float_convs`` (indexes among the
    convolutions), ``calibration`` ("minmax", "percentile", "entropy") and
    ``ranges`` are the knobs that scripts/int8_variants.py weighs.

    Pixel shuffles (``DepthToSpace``, ``SpaceToDepth``) move uint8 data,
    with their input's quantization: the same numbers, and RecUNet's twin
    restores 768x512 15-20% faster than with them in float32, where they
    took a fifth of its time. ONNX Runtime's quantizer does not list them,
    so they are added to its table for the call."""
    import tempfile

    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.operators.direct_q8 import QDQDirect8BitOp
    from onnxruntime.quantization.registry import QDQRegistry

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(samples)

        def get_next(self):
            return next(self.feeds, None)

    model = onnx.load_from_string(onnx_bytes)
    for k, node in enumerate(model.graph.node):  # the quantizer needs node names
        node.name = node.name or f"{node.op_type.lower()}_{k}"
    convs = [node.name for node in model.graph.node if node.op_type == "Conv"]
    kept_float = sorted({convs[k] for k in float_convs})
    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[calibration]
    shuffles = {op: QDQDirect8BitOp for op in ("DepthToSpace", "SpaceToDepth") if op not in QDQRegistry}
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "float32.onnx", Path(tmp) / "int8.onnx"
        onnx.save_model(model, str(source))
        QDQRegistry.update(shuffles)
        try:
            quantize_static(str(source), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=kept_float, calibrate_method=method,
                            extra_options={"TensorQuantOverrides": {
                                name: [{"rmin": np.float32(low), "rmax": np.float32(high)}]
                                for name, (low, high) in (ranges or {}).items()}})
        finally:
            for op in shuffles:
                del QDQRegistry[op]
        quantized = onnx.load(str(target))
    del quantized.metadata_props[:]  # the runtime reads scale, role and contract from here
    for prop in model.metadata_props:
        quantized.metadata_props.add(key=prop.key, value=prop.value)
    quantized.metadata_props.add(key="precision", value="int8")
    return quantized.SerializeToString()


def clipped_ranges(onnx_bytes: bytes, feeds, percentile: float = 99.99) -> dict:
    """Activation ranges for ``quantize_int8``: for every ReLU output of the
    float32 network, the largest over ``feeds`` of each feed's
    ``percentile``-th percentile, instead of the largest value.

    Why: a few pixels a crop reach 1.5 to 3 times the 99.99th percentile,
    and MinMax ranges spend the 256 levels on them: clipped, the later
    layers' steps shrink by about 30% (1.54 -> 1.1 in the q36-86 JPEG
    network). Its twin's cost on crops of ``choose/`` (output convolution
    refitted): 0.036 dB at the largest values, 0.029 at the largest
    99.999th percentiles, 0.025 at the largest 99.99th, 0.111 at their
    mean over the crops (scripts/int8_variants.py, docs/ROBUSTNESS.md)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load_from_string(onnx_bytes)
    relus = [node.output[0] for node in model.graph.node if node.op_type == "Relu"]
    for name in relus:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    highest = dict.fromkeys(relus, 0.0)
    for feed in feeds:
        for name, values in zip(relus, session.run(relus, feed), strict=True):
            highest[name] = max(highest[name], float(np.percentile(values, percentile)))
    return {name: (0.0, value) for name, value in highest.items()}


def refit_output_conv(quantized_bytes: bytes, samples, ridge: float = 1e-3, pixels: int = 8192, seed: int = 0) -> bytes:
    """An int8 twin whose float32 output convolution is refitted, by least
    squares, to what the network should add to its input, given the features
    the int8 layers actually produce: the last layer learns to undo part of
    the quantization noise (as bias correction does, with all its weights).

    ``samples`` yields (feed, target): the runtime's input feed and the
    (H, W, 3) float target of the network's output (the original, 0-1).
    ``pixels`` pixels a sample are drawn; ``ridge`` pulls towards the
    trained weights. The output must be the convolution's output plus what
    does not depend on it (the input, upsampled at scale 2), at its size. A
    tool, like ``quantize_int8``."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from ..runtime import int8_precision_mode

    model = onnx.load_from_string(quantized_bytes)
    out_conv = next(node for node in reversed(model.graph.node) if node.op_type == "Conv")
    weights = {i.name: i for i in model.graph.initializer}
    kernel = numpy_helper.to_array(weights[out_conv.input[1]]).astype(np.float64)  # (3, C, 3, 3)
    bias = numpy_helper.to_array(weights[out_conv.input[2]]).astype(np.float64)
    current = np.concatenate([kernel.reshape(kernel.shape[0], -1), bias[:, None]], axis=1).T
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(out_conv.input[0], onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    if int8_precision_mode():  # the features the twin gives at decode (runtime.Network), not the saturating kernel's
        options.add_session_config_entry("session.x64quantprecision", "1")
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    n = kernel[0].size + 1
    gram, moment = np.zeros((n, n)), np.zeros((n, kernel.shape[0]))
    for feed, target in samples:
        restored, features = session.run(None, feed)
        if features.shape[2] < restored.shape[1] or features.shape[3] < restored.shape[2]:
            raise ValueError("the output convolution works below the output's size: nothing to refit")
        features = np.pad(features[0], ((0, 0), (1, 1), (1, 1)))  # (C, H+2, W+2), the conv's zero padding
        h, w = target.shape[:2]
        ys, xs = rng.integers(0, h, pixels), rng.integers(0, w, pixels)
        # patch (c, dy, dx) at (y, x) is features[c, y + dy, x + dx]: the order of kernel[o].ravel()
        patches = np.stack([features[:, ys + dy, xs + dx] for dy in range(3) for dx in range(3)], axis=-1)
        patches = np.concatenate([patches.transpose(1, 0, 2).reshape(pixels, -1), np.ones((pixels, 1))], axis=1)
        # what the conv should output: its output now plus the remaining error
        wanted = patches @ current + (target[ys, xs] - restored[0, ys, xs])
        gram += patches.T @ patches
        moment += patches.T @ wanted
    scale = ridge * np.trace(gram) / n
    fitted = np.linalg.solve(gram + scale * np.eye(n), moment + scale * current)
    weights[out_conv.input[1]].CopyFrom(numpy_helper.from_array(
        fitted[:-1].T.reshape(kernel.shape).astype(np.float32), out_conv.input[1]))
    weights[out_conv.input[2]].CopyFrom(numpy_helper.from_array(fitted[-1].astype(np.float32), out_conv.input[2]))
    return model.SerializeToString()
