"""Renderers of the model sections (README.md, docs/results.md) from the models' records.

Records: ``flow1d``, ``autoencoder``, ``vae_linear``, ``vae_mnist``,
``realnvp_{moons,checkerboard,rings,mnist}`` (written by ``make demo`` or the
command each names, with ``--record``), the transcribed H200 runs
``autoencoder_cuda_h200`` and ``vae_mnist_cuda_h200``, and ``demo_time``.
"""

from __future__ import annotations

from typing import Any

from _format import markdown_table


def _v(records: Any, name: str) -> dict:
    return records[name]["values"]


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _sci(x: float, digits: int = 1) -> str:
    """1.4e-10 written as 1.4e−10 (a true minus sign)."""
    return f"{x:.{digits}e}".replace("e-0", "e−").replace("e-", "e−").replace("e+0", "e")


def _ws(values: list[float]) -> str:
    return ", ".join(f"{w:g}".replace("-", "−") for w in values)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def demo_time(records: Any) -> str:
    v = _v(records, "demo_time")
    return (
        f"{v['seconds'] / 60:.1f} minutes at load average {v['load_average']:.1f} "
        f"({v['cpu_seconds'] / 60:.1f} minutes of CPU)"
    )


def flow1d(records: Any) -> str:
    v = _v(records, "flow1d")
    c, s, f = v["config"], v["seed"], v["fixed"]
    rows = []
    for name, m in (("seed", s), ("fixed (+e^a·x tail)", f)):
        kl, first = m["kl_nats"], m["first_seed"]
        missing = first["missing_mass_closed_form"]
        rows.append([
            name,
            f"{kl['mean']:.5f} ± {kl['std']:.5f} ({kl['min']:.5f}–{kl['max']:.5f})",
            f"{first['mass_closed_form']:.9f}",
            f"{first['mass_quad']:.9f}",
            f"{_sci(missing, 6)} (closed form − quad: {_sci(first['missing_mass_abs_diff'])})"
            if missing else "0",
        ])  # fmt: skip
    no_pre = s["per_seed"]["n_no_preimage"]
    slopes = [a for a in f["per_seed"]["tail_log_slope_a"] if a is not None]
    pairs = zip(s["per_seed"]["kl_nats"], f["per_seed"]["kl_nats"], strict=True)
    gap = max(abs(a - b) for a, b in pairs)
    missing = s["first_seed"]["missing_mass_closed_form"]
    head = (
        f"Adam, lr {c['lr']:g}, {c['epochs']} epochs, {c['n_samples']:,} samples, batch "
        f"{c['batch_size']:,}, {c['init']} initialisation, float64, seeds "
        f"{c['seed']}–{c['seed'] + c['seeds'] - 1}; KL by `scipy.integrate.quad` (error "
        f"estimates ≤ {_sci(max(s['max_kl_quad_error'], f['max_kl_quad_error']))}):"
    )
    table = markdown_table(
        ["model", "KL(p_data ‖ p_θ), nats, mean ± sd (min–max)", "mass 2Φ(S/2)−1",
         "mass by quad", "missing mass"], rows,
    )  # fmt: skip
    tail = (
        f"The seed model is a sub-probability density: {_sci(missing)} of its mass is missing "
        f"({min(no_pre)}–{max(no_pre)} of {c['n_draws']:,} base draws "
        "had no preimage under f and are reported, not clipped). The tail term fixes the mass, "
        f"but not the fit: training drives its slope to e^a ≈ e^{{{min(slopes):.1f}}}–"
        f"e^{{{max(slopes):.1f}}}, so the two KLs agree within {_sci(gap)} nats per seed. "
        f"{v['cpu_seconds']:.0f} s of CPU for both models × {c['seeds']} seeds "
        f"({c['threads']} thread)."
    )
    return f"{head}\n\n{table}\n\n{tail}"


def autoencoder(records: Any) -> str:
    v, gpu = _v(records, "autoencoder"), _v(records, "autoencoder_cuda_h200")
    c, q, fa, sz = v["config"], v["quantile_threshold"], v["fashion"], v["sizes"]
    head = (
        f"MNIST train split by a seeded permutation into {sz['train']:,} train "
        f"({sz['train_fit']:,} fit + {sz['train_holdout']:,} held-out slice for epoch selection) "
        f"and {sz['validation']:,} validation (used **only** for the threshold). MLP "
        f"784-{c['hidden']}-{c['latent_dim']}-{c['hidden']}-784, loss Σᵢ‖Xᵢ − D(E(Xᵢ))‖², Adam "
        f"{c['lr']:g}, {c['epochs']} epochs (best: {v['best_epoch']}), threshold mean + "
        f"{v['k']:g}·std (ddof 1) of the validation scores = {v['threshold']:.3f}:"
    )
    rows = [
        ["KMNIST test", f"{v['k']:g}-σ",
         f"{_pct(v['type_i_error'])} (Cantelli: ≤ {100 * v['cantelli_type_i_bound']:.3g} %)",
         f"**{_pct(v['type_ii_error'])}**", f"**{v['auroc']:.5f}**",
         f"{v['average_precision']:.5f}"],
        ["Fashion-MNIST test", f"{v['k']:g}-σ", _pct(v["type_i_error"]),
         _pct(fa["type_ii_error"]), f"{fa['auroc']:.5f}", f"{fa['average_precision']:.5f}"],
        ["KMNIST test", f"conformal quantile, α = {q['alpha']:g}", _pct(q["type_i_error"]),
         _pct(q["type_ii_error"]), "", ""],
        ["Fashion-MNIST test", f"conformal quantile, α = {q['alpha']:g}",
         _pct(q["type_i_error"]), _pct(q["fashion_type_ii_error"]), "", ""],
    ]  # fmt: skip
    table = markdown_table(
        ["anomalies", "threshold", "type I (MNIST test)", "type II", "AUROC", "AP"], rows
    )
    tail = (
        f"{v['cpu_seconds']:.0f} s of CPU time for the whole run ({v['seconds']:.0f} s wall, "
        f"{c['threads']} thread); *H200*: {gpu['seconds']:g} s, type I "
        f"{_pct(gpu['type_i_error'])}, type II {_pct(gpu['type_ii_error'])}, AUROC "
        f"{gpu['auroc']:.5f} (transcribed from an earlier run)."
    )
    return f"{head}\n\n{table}\n\n{tail}"


def vae(records: Any) -> str:
    lin, cpu, gpu = (
        _v(records, "vae_linear"),
        _v(records, "vae_mnist"),
        _v(records, "vae_mnist_cuda_h200"),
    )
    ident, full = lin["identity_random_models"], lin["training"]["full"]
    cases = lin["argmax_lemma"]["cases"]
    removed = cases["posterior_removed"]
    linear = (
        "Linear-Gaussian VAE (everything closed-form, KLs by `klmath.gaussian_kl`): over "
        f"{ident['n_models']} random models log p(x) = ELBO + KL(q ‖ posterior) holds to "
        f"{_sci(ident['max_abs_error_logp_minus_elbo_minus_kl'])} (relative "
        f"{_sci(ident['max_rel_error_logp_minus_elbo_minus_kl'])}), and ELBO < log p always "
        f"(smallest gap {_sci(ident['min_logp_minus_elbo'])}). Trained with a full-covariance "
        f"encoder, WWᵀ + σ²I matches the probabilistic-PCA closed form to "
        f"{_sci(full['rel_frobenius_error_C'])} relative, with a final gap of "
        f"{_sci(full['mean_gap_kl'])} nats: the ELBO maximiser is the ML solution, as the lemma "
        "says. `check_argmax_lemma` on a grid confirms it"
        + (" (hypotheses and conclusion hold)" if cases["posterior_in_grid"]["conclusion_holds"]
           else " (NOT: see the record)")
        + ", and shows it fail when the encoder grid misses the posterior (argmax of the ELBO "
        f"at w = {_ws(removed['argmax_g_w'])} instead of {_ws(removed['argmax_f_w'])})."
    )  # fmt: skip

    def row(name: str, r: dict) -> list[str]:
        e, iw, a = r["test_nll_elbo"], r["iw_bound"], r["anomaly"]
        first, last = 0, iw["n_images"] - 1
        return [
            name, f"{e['nats']:.2f} ± {e['stderr_nats']:.2f}",
            f"{iw['nats']:.2f} ± {iw['stderr_nats']:.2f} ({iw['bits_per_dim']:.3f}) on test "
            f"images {first}–{last}",
            f"{_pct(a['type_i_error'])} / {_pct(a['type_ii_error'])} / {a['auroc']:.5f}",
        ]  # fmt: skip

    k = cpu["iw_bound"]["k"]
    rows = [
        row(f"CPU, {cpu['training']['epochs']} epochs (default, {_minutes(cpu_seconds(records))})",
            cpu),
        row(f"*H200*, {gpu['training']['epochs']} epochs (transcribed)", gpu),
    ]  # fmt: skip
    table = markdown_table(
        ["run", "test −ELBO (nats)", f"−L_{k} (nats; bits/dim)",
         f"MNIST vs KMNIST with −ELBO, {cpu['anomaly']['k']:g}-σ: type I / type II / AUROC"],
        rows,
    )  # fmt: skip
    paper = cpu["iw_bound"]["paper_reference_nats"]
    tail = (
        f"For comparison, the IWAE paper's one-layer VAE reports {paper} nats after 3,280 epochs "
        "on the whole test set with a different architecture."
    )
    mnist = (
        "MNIST VAE (conv, "
        f"{cpu['model']['latent_dim']}-d latent, Bernoulli decoder, dynamically binarised MNIST, "
        "KL term by `klmath.gaussian_kl_diag`):"
    )
    return f"{linear}\n\n{mnist}\n\n{table}\n\n{tail}"


def cpu_seconds(records: Any) -> float:
    return float(records["vae_mnist"]["values"]["seconds"])


def realnvp(records: Any) -> str:
    moons = _v(records, "realnvp_moons")
    c = moons["config"]
    head = (
        f"{c['layers']} couplings of width {c['hidden']}, {c['epochs']} epochs, seed "
        f"{c['seed']}; KL by `klmath.mc_kl` (k1, {moons['kl_p_q']['n']:,} draws) against the "
        "exact toy density:"
    )
    rows = []
    for name, label in (("moons", "two moons"), ("checkerboard", "checkerboard"),
                        ("rings", "rings")):  # fmt: skip
        r = _v(records, f"realnvp_{name}")
        if name == "moons":
            label += f" (default, {_minutes(r['seconds'])})"
        kl = r["kl_p_q"]
        rows.append([
            label, f"{r['test_nll_nats']:.3f} ± {r['test_nll_stderr']:.3f}",
            f"{r['true_entropy_nats']:.3f}", f"{kl['value']:.4f} ± {kl['stderr']:.4f}",
        ])  # fmt: skip
    table = markdown_table(["dataset", "test NLL (nats)", "entropy H(p)", "KL(p ‖ q)"], rows)
    m = _v(records, "realnvp_mnist")
    mc = m["config"]
    tail = (
        f"MNIST (`--dataset mnist`: uniform dequantisation, logit space, {mc['layers']} "
        f"checkerboard couplings of width {mc['hidden']}, {mc['epochs']} epochs, "
        f"{_minutes(m['seconds'])} on {mc['threads']} CPU thread): **{m['test_bits_per_dim']:.2f} "
        f"± {m['test_bits_per_dim_stderr']:.2f} bits/dim** on MNIST test, an honest upper bound "
        "(published RealNVP-class models reach about 1.0–1.1 bits/dim after far longer training)."
    )
    return f"{head}\n\n{table}\n\n{tail}"


def models_threads(records: Any) -> str:
    v = _v(records, "models_threads")
    rows = [
        [name, f"{t['seconds_1_thread']:.3f}", f"{t['seconds_2_threads']:.3f}",
         f"{t['ratio_2_over_1']:.2f}"]
        for name, t in v["workloads"].items()
    ]  # fmt: skip
    table = markdown_table(["workload", "1 thread (s)", "2 threads (s)", "2 / 1"], rows, "lrrr")
    slower = [n for n, t in v["workloads"].items() if t["ratio_2_over_1"] < 1]
    verdict = (
        f"Two threads help only {', '.join(slower)}"
        if slower
        else "One thread is faster for every workload"
    )
    return (
        f"{table}\n\nBest of {v['repeats']} interleaved repeats "
        f"({records['models_threads']['date'][:10]}, 1-minute load average "
        f"{v['load_average_1min_at_end']:.1f} at the end: the machine is shared); 2 / 1 above 1 "
        f"means one thread is faster. {verdict}; so every model defaults to `--threads 1`."
    )


def demo_stages(records: Any) -> str:
    v = _v(records, "demo_time")
    rows = [
        [name, f"{sec:.1f}", f"{v['stages_cpu_seconds'][name]:.1f}"]
        for name, sec in v["stages"].items()
    ]
    rows.append(["**total**", f"**{v['seconds']:.1f}**", f"**{v['cpu_seconds']:.1f}**"])
    table = markdown_table(["stage", "wall (s)", "CPU (s)"], rows, "lrr")
    return (
        f"{table}\n\n`make demo` on 2 cores, {records['demo_time']['date'][:10]}, 1-minute load "
        f"average {v['load_average']:.1f} during the run (the machine is shared with other work; "
        "CPU seconds are what an otherwise idle machine would need, more or less)."
    )


TABLES = {
    "models-threads": models_threads,
    "demo-stages": demo_stages,
    "demo-time": demo_time,
    "flow1d": flow1d,
    "autoencoder": autoencoder,
    "vae": vae,
    "realnvp": realnvp,
}
