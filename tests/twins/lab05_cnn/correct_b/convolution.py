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
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    before = total // 2
    return before, total - before


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
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    windows = windows[:, ::sh, ::sw][:, :out_h, :out_w]      # (N, OH, OW, C, KH, KW)
    windows = np.transpose(windows, (0, 1, 2, 4, 5, 3))     # (N, OH, OW, KH, KW, C)
    return windows.reshape(n, out_h, out_w, kh * kw * channels)


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
    cols = im2col(pad_images(x, (kh, kw), strides, padding), (kh, kw), strides)
    out = np.tensordot(cols, kernel.reshape(-1, c_out), axes=([3], [0]))
    return out if bias is None else out + np.reshape(bias, (1, 1, 1, c_out))


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
    if padding == "same":
        top, left = same_padding(out_h, kh, sh)[0], same_padding(out_w, kw, sw)[0]
    else:
        top, left = 0, 0
    big_h = max((height - 1) * sh + kh, top + out_h)
    big_w = max((width - 1) * sw + kw, left + out_w)
    full = np.zeros((n, big_h, big_w, c_out), dtype=np.float64)
    for i in range(height):
        for j in range(width):
            # kernel (KH, KW, C_out, C_in) . y[:, i, j] (N, C_in) -> (N, KH, KW, C_out)
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :] += np.einsum(
                "nc,abdc->nabd", y[:, i, j, :], kernel)
    out = full[:, top:top + out_h, left:left + out_w, :]
    if bias is not None:
        out = out + np.asarray(bias)
    return out.astype(np.result_type(y, kernel))


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
    windows = _windows(x, pool_size, strides, padding, value=-np.inf)
    return np.amax(windows, axis=-2)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Average pooling as Keras's AveragePooling2D: the mean of each window, per channel.

    With "same", a window that hangs over the border averages only the real pixels it
    covers (padding is not counted as zeros): divide each window's sum by its count of
    real pixels (the windows of an all-ones image padded with zeros count them).
    x: (N, H, W, C); strides default to pool_size. Returns (N, OH, OW, C).
    """
    x = np.asarray(x)
    strides = pool_size if strides is None else strides
    totals = np.sum(_windows(x, pool_size, strides, padding, 0.0), axis=-2)
    ones = np.ones((1,) + x.shape[1:3] + (1,), dtype=x.dtype)
    real = np.sum(_windows(ones, pool_size, strides, padding, 0.0), axis=-2)  # (1, OH, OW, 1)
    return totals / real
