"""Lab 5, part 1: convolution and pooling by hand, in numpy. Fill in the parts marked TODO.

The pieces, in the order the handout builds them:

1. "same" padding                    same_padding
2. patches as columns                im2col
3. convolution as one matmul         conv2d
4. its adjoint                       conv_transpose2d
5. pooling                           max_pool2d, avg_pool2d

Everything follows Keras's conventions, so each function can be checked against the Keras
layer of the same name with the same (copied) weights:
- images are channels-last: x: (N, H, W, C);
- a kernel is (KH, KW, C_in, C_out), as `keras.layers.Conv2D(...).kernel`;
- "convolution" is cross-correlation: out[i, j] = sum_{a, b} x[i*s + a, j*s + b] . k[a, b],
  the kernel is NOT flipped;
- padding is "valid" (none) or "same" (zeros, so that out = ceil(in / stride)).
strides and pool sizes are an int (the same along both axes) or a pair (rows, columns).
"""
import math

import numpy as np

PADDINGS = ("valid", "same")


def _pair(value):
    """3 -> (3, 3); (2, 1) -> (2, 1)."""
    return (int(value), int(value)) if np.isscalar(value) else tuple(int(v) for v in value)


# ---------------------------------------------------------------------------------------------
# 1-2. Padding and patches
# ---------------------------------------------------------------------------------------------

def same_padding(size, kernel_size, stride):
    """The zeros "same" padding adds along one axis, as TensorFlow and Keras add them.

    "same" gives out = ceil(size / stride) outputs. The last window must fit, so the padding
    adds total = max((out - 1) * stride + kernel_size - size, 0) zeros; they are split with
    the smaller half BEFORE the data and the extra one (when total is odd) AFTER it.

    size, kernel_size, stride: ints. Returns (before, after): two ints.
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2


def pad_images(x, kernel_size, strides, padding, value=0.0):
    """Pad x: (N, H, W, C) for a window of kernel_size with the given strides and padding.

    "valid" returns x unchanged; "same" pads rows and columns by same_padding with `value`.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == "valid":
        return x
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    rows = same_padding(x.shape[1], kh, sh)
    cols = same_padding(x.shape[2], kw, sw)
    return np.pad(x, ((0, 0), rows, cols, (0, 0)), constant_values=value)


def im2col(x, kernel_size, strides=1):
    """Every window of x as one row of numbers: the patches of a "valid" convolution.

    x: (N, H, W, C), already padded; kernel_size, strides: int or (rows, columns).
    Output positions: OH = (H - KH) // SH + 1 (and OW likewise); window (i, j) covers
    x[:, i*SH : i*SH + KH, j*SW : j*SW + KW, :].
    Returns cols: (N, OH, OW, KH * KW * C), each window flattened in (KH, KW, C) order, the
    order of kernel.reshape(KH * KW * C, C_out), so that conv = cols @ that matrix.
    """
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(strides)
    n, height, width, channels = x.shape
    out_h, out_w = (height - kh) // sh + 1, (width - kw) // sw + 1
    patches = []
    for a in range(kh):
        for b in range(kw):
            patches.append(x[:, a:a + (out_h - 1) * sh + 1:sh, b:b + (out_w - 1) * sw + 1:sw, :])
    cols = np.stack(patches, axis=3)  # (N, OH, OW, KH*KW, C)
    return cols.reshape(n, out_h, out_w, kh * kw * channels)


# ---------------------------------------------------------------------------------------------
# 3-4. Convolution and transposed convolution
# ---------------------------------------------------------------------------------------------

def conv2d(x, kernel, bias=None, strides=1, padding="valid"):
    """2-D convolution (cross-correlation) as Keras's Conv2D computes it.

    x: (N, H, W, C_in); kernel: (KH, KW, C_in, C_out); bias: (C_out,) or None.
    Returns out: (N, OH, OW, C_out) with OH = ceil(H / SH) for "same" and
    (H - KH) // SH + 1 for "valid".
    """
    x = np.asarray(x)
    kernel = np.asarray(kernel)
    kh, kw, c_in, c_out = kernel.shape
    padded = pad_images(x, (kh, kw), strides, padding)
    cols = im2col(padded, (kh, kw), strides)
    out = cols @ kernel.reshape(kh * kw * c_in, c_out)
    if bias is not None:
        out = out + np.asarray(bias)
    return out


def conv_transpose_output_size(size, kernel_size, stride, padding):
    """The output length of a transposed convolution along one axis (Keras's rule).

    It is the input length of the forward convolution it undoes: size * stride for "same";
    for "valid" also the max(kernel_size - stride, 0) rows the last window reaches past it.
    """
    if padding == "same":
        return size * stride
    return size * stride + max(kernel_size - stride, 0)


def conv_transpose2d(y, kernel, bias=None, strides=1, padding="valid"):
    """Transposed convolution as Keras's Conv2DTranspose computes it: the adjoint of conv2d.

    conv2d sends window (i, j) of its input to output pixel (i, j) through the kernel;
    the transposed convolution sends each input pixel y[:, i, j] back to that window:
        full[:, i*SH + a, j*SW + b, :] += kernel[a, b] @ y[:, i, j, :]
    then crops the rows and columns the forward "same" padding had added (before: the
    same_padding of the output size; valid: none), and zero-fills up to the output size.
    It is the gradient of conv2d with respect to its input.

    y: (N, H, W, C_in); kernel: (KH, KW, C_out, C_in), as Conv2DTranspose(...).kernel: the
    forward conv2d's kernel layout, whose input channels are this output's; bias: (C_out,) or
    None. Returns out: (N, OH, OW, C_out), OH = conv_transpose_output_size(H, KH, SH, padding).
    """
    y = np.asarray(y)
    kernel = np.asarray(kernel)
    (sh, sw) = _pair(strides)
    n, height, width, _ = y.shape
    kh, kw, c_out, _ = kernel.shape
    out_h = conv_transpose_output_size(height, kh, sh, padding)
    out_w = conv_transpose_output_size(width, kw, sw, padding)
    full_h, full_w = (height - 1) * sh + kh, (width - 1) * sw + kw
    full = np.zeros((n, full_h, full_w, c_out), dtype=np.result_type(y, kernel))
    for a in range(kh):
        for b in range(kw):
            full[:, a:a + (height - 1) * sh + 1:sh, b:b + (width - 1) * sw + 1:sw, :] += y @ kernel[a, b].T
    if padding == "same":
        top = same_padding(out_h, kh, sh)[0]
        left = same_padding(out_w, kw, sw)[0]
    else:
        top = left = 0
    cropped = full[:, top:top + out_h, left:left + out_w, :]
    out = np.zeros((n, out_h, out_w, c_out), dtype=full.dtype)
    out[:, :cropped.shape[1], :cropped.shape[2], :] = cropped
    if bias is not None:
        out = out + np.asarray(bias)
    return out


# ---------------------------------------------------------------------------------------------
# 5. Pooling
# ---------------------------------------------------------------------------------------------

def _windows(x, pool_size, strides, padding, value):
    """(N, OH, OW, PH * PW, C): every pooling window of x, padded with `value` for "same"."""
    (ph, pw) = _pair(pool_size)
    cols = im2col(pad_images(x, (ph, pw), strides, padding, value=value), (ph, pw), strides)
    return cols.reshape(*cols.shape[:3], ph * pw, x.shape[-1])


def max_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling as Keras's MaxPooling2D: the largest value of each window, per channel.

    Padded positions ("same") never win: pad with -inf.
    x: (N, H, W, C); strides default to pool_size. Returns (N, OH, OW, C).
    """
    x = np.asarray(x)
    strides = pool_size if strides is None else strides
    return _windows(x, pool_size, strides, padding, -np.inf).max(axis=3)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling as Keras's AveragePooling2D: the mean of each window, per channel.

    With "same", a window that hangs over the border averages only the real pixels it
    covers (padding is not counted as zeros): divide each window's sum by its count of
    real pixels (the windows of an all-ones image padded with zeros count them).
    x: (N, H, W, C); strides default to pool_size. Returns (N, OH, OW, C).
    """
    x = np.asarray(x)
    strides = pool_size if strides is None else strides
    sums = _windows(x, pool_size, strides, padding, 0.0).sum(axis=3)
    counts = _windows(np.ones_like(x), pool_size, strides, padding, 0.0).sum(axis=3)
    return sums / counts
