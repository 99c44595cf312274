/* Neural Network Anatomy — the anatomy lens's calculators, in the reader's browser.
 *
 * Three calculators, each the JavaScript twin of a Python function of the course package:
 *   conv      nnanatomy.explore.conv_geometry   (chapter 02)
 *   layer     nnanatomy.explore.layer_cost      (appendix A1; six layer types)
 *   parallel  nnanatomy.explore.parallel_cost   (appendix A4)
 * A page asks for one with <div class="nna-calculator" data-calculator="conv"></div>. No
 * dependencies, nothing loaded from elsewhere. Counts are exact integers (BigInt); numbers are
 * formatted as Python formats them (round half to even), so the page shows the same text as the
 * notebook. tests/site/test_calculators.py drives these forms in a browser and compares every
 * number with the Python function's on a table of cases.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- formatting, as in Python

  function groupDigits(n) { // 1234567n → "1,234,567" (Python's f"{n:,}")
    const s = (typeof n === "bigint" ? n : BigInt(Math.trunc(n))).toString();
    const negative = s.startsWith("-");
    const digits = negative ? s.slice(1) : s;
    return (negative ? "-" : "") + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // x's decimal digits and exponent, x = 0.d1d2d3… × 10^(exponent + 1), from toExponential's
  // (near-)exact expansion, so that ties can be rounded to even as Python does
  function decimalDigits(x) {
    const [mantissa, exponent] = Math.abs(x).toExponential(40).split("e");
    return { digits: mantissa.replace(".", ""), exponent: parseInt(exponent, 10) };
  }

  // round the digit string to `keep` digits, half to even; returns [digits, carried]
  function roundDigits(digits, keep) {
    if (keep < 0) return ["", false];
    const head = digits.slice(0, keep), rest = digits.slice(keep);
    let up = false;
    if (rest.length && rest[0] > "5") up = true;
    else if (rest.length && rest[0] === "5") {
      up = /[1-9]/.test(rest.slice(1)) || (keep > 0 && parseInt(head[keep - 1], 10) % 2 === 1);
    }
    if (!up) return [head.padEnd(keep, "0"), false];
    const chars = head.padEnd(keep, "0").split("");
    let i = chars.length - 1;
    while (i >= 0 && chars[i] === "9") { chars[i] = "0"; i -= 1; }
    if (i < 0) return ["1" + chars.join(""), true];
    chars[i] = String(parseInt(chars[i], 10) + 1);
    return [chars.join(""), false];
  }

  function formatFixed(x, places) { // Python's f"{x:.{places}f}"
    if (x === 0) return (0).toFixed(places);
    let { digits, exponent } = decimalDigits(x);
    let whole = exponent + 1 + places; // digits of round(|x|·10^places) before rounding
    if (whole < 1) { // |x| < 10^-places: shift so that one digit stands before the cut
      digits = "0".repeat(1 - whole) + digits;
      whole = 1;
    }
    const [rounded] = roundDigits(digits, whole);
    const n = rounded.replace(/^0+(?=\d)/, "").padStart(places + 1, "0");
    const text = places ? `${n.slice(0, n.length - places)}.${n.slice(n.length - places)}` : n;
    return (x < 0 ? "-" : "") + text;
  }

  function formatG3(x) { // Python's f"{x:.3g}"
    if (x === 0) return "0";
    const { digits, exponent } = decimalDigits(x);
    let [kept, carried] = roundDigits(digits, 3);
    let e = exponent + (carried ? 1 : 0);
    if (carried) kept = kept.slice(0, 3);
    const sign = x < 0 ? "-" : "";
    if (e < -4 || e >= 3) {
      const mantissa = (kept[0] + "." + kept.slice(1)).replace(/\.?0+$/, "");
      return sign + mantissa + "e" + (e < 0 ? "-" : "+") + String(Math.abs(e)).padStart(2, "0");
    }
    let text;
    if (e >= 0) text = kept.slice(0, e + 1).padEnd(e + 1, "0") + "." + kept.slice(e + 1);
    else text = "0." + "0".repeat(-e - 1) + kept;
    return sign + text.replace(/\.?0+$/, "").replace(/\.$/, "");
  }

  const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

  function formatBytes(n) { // nnanatomy.explore.format_bytes
    let value = Number(n), unit = 0;
    while (value >= 1024 && unit < BYTE_UNITS.length - 1) { value /= 1024; unit += 1; }
    if (unit === 0) return `${Math.trunc(value)} B`;
    return value < 1000 ? `${formatG3(value)} ${BYTE_UNITS[unit]}` : `${formatFixed(value, 0)} ${BYTE_UNITS[unit]}`;
  }

  // ---------------------------------------------------------------- the formulas

  class InputError extends Error {}

  function wholeNumber(name, value, minimum) {
    if (typeof value === "string") value = value.trim();
    if (value === "" || !/^-?\d+$/.test(String(value))) throw new InputError(`${name} must be a whole number, got ${JSON.stringify(value)}`);
    const n = BigInt(value);
    if (n < BigInt(minimum)) throw new InputError(`${name} must be >= ${minimum}, got ${n}`);
    return n;
  }

  function positiveNumber(name, value) {
    const x = Number(String(value).trim());
    if (String(value).trim() === "" || !Number.isFinite(x) || x <= 0) throw new InputError(`${name} must be a number > 0, got ${JSON.stringify(value)}`);
    return x;
  }

  function convOutputSize(size, kernel, stride, padding, dilation) { // nnanatomy.scratch.conv.conv_output_size
    const span = dilation * (kernel - 1n) + 1n;
    if (size + 2n * padding < span) {
      throw new InputError(`kernel of footprint ${span} (kernel ${kernel}, dilation ${dilation}) does not fit an input of size ${size} with padding ${padding}`);
    }
    return (size + 2n * padding - span) / stride + 1n; // BigInt division floors non-negative numbers
  }

  function convGeometry(v) {
    const h = wholeNumber("height", v.height, 1), w = wholeNumber("width", v.width, 1);
    const cIn = wholeNumber("in_channels", v.in_channels, 1), cOut = wholeNumber("out_channels", v.out_channels, 1);
    const k = wholeNumber("kernel", v.kernel, 1), s = wholeNumber("stride", v.stride, 1);
    const p = wholeNumber("padding", v.padding, 0), d = wholeNumber("dilation", v.dilation, 1);
    const bias = Boolean(v.bias);
    const outH = convOutputSize(h, k, s, p, d), outW = convOutputSize(w, k, s, p, d);
    const params = cOut * (cIn * k * k + (bias ? 1n : 0n));
    const macs = cOut * outH * outW * cIn * k * k;
    const span = d * (k - 1n) + 1n;
    const paramText = bias ? `C_out·(C_in·k·k + 1) = ${cOut}·(${cIn}·${k}·${k} + 1)` : `C_out·C_in·k·k (no bias) = ${cOut}·${cIn}·${k}·${k}`;
    const describe =
      `Conv2d(${cIn}, ${cOut}, kernel_size=${k}, stride=${s}, padding=${p}, dilation=${d}, bias=${bias ? "True" : "False"}) on (1, ${cIn}, ${h}, ${w})\n` +
      `  H_out = floor((${h} + 2·${p} − ${span}) / ${s}) + 1 = ${outH}   (kernel footprint ${span} = dilation·(k − 1) + 1)\n` +
      `  W_out = floor((${w} + 2·${p} − ${span}) / ${s}) + 1 = ${outW}\n` +
      `  output (1, ${cOut}, ${outH}, ${outW})\n` +
      `  parameters = ${paramText} = ${groupDigits(params)}\n` +
      `  MACs = C_out·H_out·W_out·C_in·k·k = ${groupDigits(macs)}`;
    return {
      out_height: outH, out_width: outW, params, macs, flops: 2n * macs,
      output_shape: `(1, ${cOut}, ${outH}, ${outW})`, describe,
    };
  }

  const FLOAT32 = 4n;
  const LAYERS = { // nnanatomy.explore.LAYERS: the sizes each asks for, and its costs
    Linear: {
      sizes: ["batch", "in_features", "out_features"],
      cost: (s) => ({
        output_shape: `(${s.batch}, ${s.out_features})`,
        params: s.in_features * s.out_features + s.out_features,
        macs: s.batch * s.in_features * s.out_features,
        activation_bytes: FLOAT32 * s.batch * s.out_features,
      }),
    },
    Conv2d: {
      sizes: ["batch", "in_channels", "out_channels", "size", "kernel", "stride", "padding"],
      cost: (s) => {
        const out = convOutputSize(s.size, s.kernel, s.stride, s.padding, 1n);
        return {
          output_shape: `(${s.batch}, ${s.out_channels}, ${out}, ${out})`,
          params: s.out_channels * (s.in_channels * s.kernel * s.kernel + 1n),
          macs: s.batch * s.out_channels * out * out * s.in_channels * s.kernel * s.kernel,
          activation_bytes: FLOAT32 * s.batch * s.out_channels * out * out,
        };
      },
    },
    BatchNorm2d: {
      sizes: ["batch", "channels", "size"],
      cost: (s) => ({ // scale and shift per channel; normalisation is element-wise: 0 MACs
        output_shape: `(${s.batch}, ${s.channels}, ${s.size}, ${s.size})`,
        params: 2n * s.channels, macs: 0n,
        activation_bytes: FLOAT32 * s.batch * s.channels * s.size * s.size,
      }),
    },
    LayerNorm: {
      sizes: ["batch", "tokens", "d_model"],
      cost: (s) => ({
        output_shape: `(${s.batch}, ${s.tokens}, ${s.d_model})`,
        params: 2n * s.d_model, macs: 0n,
        activation_bytes: FLOAT32 * s.batch * s.tokens * s.d_model,
      }),
    },
    MultiheadAttention: {
      sizes: ["batch", "tokens", "d_model", "heads"],
      cost: (s) => {
        if (s.d_model % s.heads !== 0n) throw new InputError(`d_model ${s.d_model} must be divisible by heads ${s.heads}`);
        return { // Q, K, V and output projections (4·d² + 4·d), then Q·Kᵀ and weights·V
          output_shape: `(${s.batch}, ${s.tokens}, ${s.d_model})`,
          params: 4n * s.d_model * s.d_model + 4n * s.d_model,
          macs: 4n * s.batch * s.tokens * s.d_model * s.d_model + 2n * s.batch * s.tokens * s.tokens * s.d_model,
          activation_bytes: FLOAT32 * s.batch * s.tokens * s.d_model,
        };
      },
    },
    LSTM: {
      sizes: ["batch", "tokens", "in_features", "hidden"],
      cost: (s) => ({ // four gates, each from the input and the previous hidden state; two biases each
        output_shape: `[(${s.batch}, ${s.tokens}, ${s.hidden}), (1, ${s.batch}, ${s.hidden}), (1, ${s.batch}, ${s.hidden})]`,
        params: 4n * s.hidden * (s.in_features + s.hidden) + 8n * s.hidden,
        macs: s.batch * s.tokens * 4n * s.hidden * (s.in_features + s.hidden),
        activation_bytes: FLOAT32 * (s.batch * s.tokens * s.hidden + 2n * s.batch * s.hidden),
      }),
    },
  };

  function layerCost(kind, values) {
    const layer = LAYERS[kind];
    if (!layer) throw new InputError(`kind must be one of ${Object.keys(LAYERS).sort().join(", ")}, got ${JSON.stringify(kind)}`);
    const sizes = {};
    for (const name of layer.sizes) sizes[name] = wholeNumber(name, values[name], name === "padding" ? 0 : 1);
    const cost = layer.cost(sizes);
    cost.flops = 2n * cost.macs;
    return cost;
  }

  const STATE_TENSORS = { adam: 2, adamw: 2, momentum: 1, sgd: 0 }; // nnanatomy.explore.OPTIMIZER_STATES
  const STRATEGIES = { ddp: 2, fsdp: 3 };

  function parallelCost(v) { // nnanatomy.explore.parallel_cost, in the same order of operations
    const parameters = Number(wholeNumber("parameters", v.parameters, 1));
    if (parameters > 1e15) throw new InputError(`parameters must be <= 1,000,000,000,000,000, got ${groupDigits(BigInt(v.parameters))}`);
    const devices = Number(wholeNumber("devices", v.devices, 1));
    if (devices > 1e6) throw new InputError(`devices must be <= 1,000,000, got ${devices}`);
    const strategy = v.strategy, optimizer = v.optimizer;
    if (!(strategy in STRATEGIES)) throw new InputError(`strategy must be one of ddp, fsdp, got ${JSON.stringify(strategy)}`);
    if (!(optimizer in STATE_TENSORS)) throw new InputError(`optimizer must be one of adam, adamw, momentum, sgd, got ${JSON.stringify(optimizer)}`);
    const bytes = Number(wholeNumber("bytes_per_value", v.bytes_per_value, 1));
    if (bytes > 8) throw new InputError(`bytes_per_value must be <= 8, got ${bytes}`);
    const tokens = Number(wholeNumber("tokens_per_device", v.tokens_per_device, 1));
    if (tokens > 1e9) throw new InputError(`tokens_per_device must be <= 1,000,000,000, got ${tokens}`);
    const peak = positiveNumber("peak_flops", v.peak_flops), link = positiveNumber("link_bandwidth", v.link_bandwidth);

    const states = STATE_TENSORS[optimizer];
    let state = Number(BigInt(2 + states) * BigInt(bytes) * BigInt(parameters));
    if (strategy === "fsdp") state = state / devices;
    const sent = STRATEGIES[strategy] * (devices - 1) / devices * bytes * parameters;
    const compute = Number(6n * BigInt(parameters) * BigInt(tokens)) / peak;
    const communication = sent / link;
    const shard = strategy === "fsdp" ? ` / ${devices}` : "";
    const describe =
      `${strategy.toUpperCase()} over N = ${devices} devices, P = ${groupDigits(BigInt(parameters))} parameters, ${bytes} bytes per value, ${optimizer}\n` +
      `  model state per device = (2 + ${states})·${bytes}·P${shard} = ${formatBytes(state)}\n` +
      `  sent per device and step = ${STRATEGIES[strategy]}·(N − 1)/N·${bytes}·P = ${formatBytes(sent)}\n` +
      `  compute = 6·P·${groupDigits(BigInt(tokens))} tokens / ${formatG3(peak)} FLOP/s = ${formatFixed(compute * 1e3, 2)} ms\n` +
      `  communication = sent / ${formatG3(link)} B/s = ${formatFixed(communication * 1e3, 2)} ms (${formatFixed(communication / compute, 2)} × the compute)`;
    return {
      state_bytes: state, sent_bytes: sent, compute_seconds: compute, communication_seconds: communication,
      communication_share: communication / compute, describe,
    };
  }

  // ---------------------------------------------------------------- the forms

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function field(name, value, options) {
    const id = `nna-${Math.random().toString(36).slice(2, 10)}`;
    let input;
    if (options && options.choices) {
      input = element("select", { id, name });
      for (const choice of options.choices) input.append(element("option", { value: String(choice), text: String(choice) }));
      input.value = String(value);
    } else if (options && options.checkbox) {
      input = element("input", { id, name, type: "checkbox" });
      input.checked = Boolean(value);
    } else {
      input = element("input", { id, name, type: "text", inputmode: options && options.real ? "decimal" : "numeric", size: "10" });
      input.value = String(value);
    }
    return element("label", { class: "nna-field", for: id }, element("span", { text: name }), input);
  }

  function readForm(form) {
    const values = {};
    for (const input of form.querySelectorAll("input, select")) values[input.name] = input.type === "checkbox" ? input.checked : input.value;
    return values;
  }

  function resultTable(rows) {
    const body = element("tbody");
    for (const [key, label] of rows) body.append(element("tr", {}, element("th", { text: label }), element("td", { "data-out": key })));
    return element("table", { class: "nna-results" }, body);
  }

  function show(root, result, error) {
    const message = root.querySelector(".nna-error");
    message.textContent = error ? `invalid: ${error.message}` : "";
    message.hidden = !error;
    root.dataset.state = error ? "invalid" : "ok";
    for (const cell of root.querySelectorAll("[data-out]")) {
      const key = cell.dataset.out;
      const value = result ? result[key] : undefined;
      cell.dataset.value = value === undefined ? "" : String(value);
      if (value === undefined) cell.textContent = "—";
      else if (key === "describe" || key === "output_shape") cell.textContent = value;
      else if (key.endsWith("_bytes")) cell.textContent = formatBytes(value);
      else if (key.endsWith("_seconds")) cell.textContent = `${formatFixed(value * 1e3, 2)} ms`;
      else if (key === "communication_share") cell.textContent = `${formatFixed(value, 2)} ×`;
      else cell.textContent = groupDigits(value);
    }
  }

  function mount(root, fields, outputs, compute, extra) {
    const form = element("form", { class: "nna-form", autocomplete: "off" });
    form.addEventListener("submit", (event) => event.preventDefault());
    if (extra) form.append(extra);
    for (const [name, value, options] of fields) form.append(field(name, value, options));
    const error = element("p", { class: "nna-error", role: "alert" });
    const describe = element("pre", { class: "nna-describe", "data-out": "describe" });
    root.replaceChildren(form, error, resultTable(outputs), describe);
    const update = () => {
      try {
        show(root, compute(readForm(form)), null);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        show(root, null, err);
      }
    };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
    return update;
  }

  const CALCULATORS = {
    conv(root) {
      mount(root, [
        ["height", 32], ["width", 32], ["in_channels", 3], ["out_channels", 16],
        ["kernel", 3], ["stride", 1], ["padding", 1], ["dilation", 1], ["bias", true, { checkbox: true }],
      ], [["output_shape", "output"], ["out_height", "H_out"], ["out_width", "W_out"], ["params", "parameters"],
        ["macs", "MACs"], ["flops", "FLOPs"]], convGeometry);
    },
    layer(root) {
      const defaults = { batch: 1, in_features: 64, out_features: 64, in_channels: 3, out_channels: 64, size: 224, kernel: 7,
        stride: 2, padding: 3, channels: 64, tokens: 128, d_model: 256, heads: 8, hidden: 128 };
      const kind = element("select", { name: "kind", class: "nna-kind" });
      for (const name of Object.keys(LAYERS).sort()) kind.append(element("option", { value: name, text: name }));
      kind.value = root.dataset.kind && LAYERS[root.dataset.kind] ? root.dataset.kind : "Conv2d";
      const chooser = element("label", { class: "nna-field" }, element("span", { text: "layer" }), kind);
      const fields = Object.entries(defaults).map(([name, value]) => [name, value]);
      mount(root, fields, [["output_shape", "output"], ["params", "parameters"], ["macs", "MACs"], ["flops", "FLOPs"],
        ["activation_bytes", "activations"]], (values) => layerCost(values.kind, values), chooser);
      root.querySelector(".nna-describe").remove(); // the table says it all: one row of the anatomy table
      const form = root.querySelector("form");
      const showNeeded = () => {
        const needed = new Set(LAYERS[kind.value].sizes);
        for (const input of form.querySelectorAll("input")) input.closest("label").hidden = !needed.has(input.name);
      };
      kind.addEventListener("change", showNeeded);
      showNeeded();
    },
    parallel(root) {
      mount(root, [
        ["parameters", 124439808], ["devices", 8], ["strategy", "ddp", { choices: ["ddp", "fsdp"] }],
        ["optimizer", "adam", { choices: ["adam", "adamw", "momentum", "sgd"] }], ["bytes_per_value", 4, { choices: [4, 2] }],
        ["tokens_per_device", 8192], ["peak_flops", "1e14", { real: true }], ["link_bandwidth", "2.5e10", { real: true }],
      ], [["state_bytes", "model state per device"], ["sent_bytes", "sent per device and step"],
        ["compute_seconds", "compute"], ["communication_seconds", "communication"], ["communication_share", "communication / compute"]],
      parallelCost);
    },
  };

  function start() {
    for (const root of document.querySelectorAll("div.nna-calculator[data-calculator]")) {
      const build = CALCULATORS[root.dataset.calculator];
      if (build && !root.dataset.ready) {
        build(root);
        root.dataset.ready = "true";
      }
    }
  }

  window.nnaCalculators = { convGeometry, layerCost, parallelCost, formatBytes, formatG3, formatFixed, groupDigits };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
