"""AFA-SVR, adversarial feature augmentation for single-view retrieval, as the book defines it
(chapter 5).

- F: a CNN trained on clean images with labels (`gan.quality.SmallCNN`, chapter 3's classifier);
  `F.body` gives 128-d features, `F.head` the class logits (the "classification decision").
- G: a U-Net (`gan.unet`) that maps a degraded image to a clean-looking one, trained on synthetic
  (degraded, clean) pairs of the SEEN degradations with three losses: an adversarial loss from
  a patch discriminator, an L1 reconstruction loss and a feature-consistency loss
  1 - cos(F(G(x~)), F(x)). No label enters G's losses, but G is trained through F, which was
  trained with labels: G is not label-free.
- Fusion: phi_w(q) = [sqrt(w) n(F(q)); sqrt(1 - w) n(F(G(q)))] with n = L2 normalisation. The
  database is clean and not passed through G (`database_descriptors`): phi_w(b) has n(F(b)) in
  both halves, so <phi_w(q), phi_w(b)> = w cos(F q, F b) + (1 - w) cos(F G q, F b).
- Decision: psi(x) = [sqrt(1 - beta) phi_w(x); sqrt(beta) p(x)] with p the class posteriors
  (w-weighted like the features); ranked by inner product, the score is
  (1 - beta) <phi, phi> + beta <p_q, p_b>: agreement of the two decisions re-ranks the list.
- w and beta are chosen on validation queries (`choose_weights`), in either protocol (`evaluate`):
  same class, or same item (the database holds each query's clean copy, `protocol.with_clean_copies`).
- Any F can stand in for chapter 5's: the robust F_aug (`zoo.classifier(degradations=...)`),
  trained with the degradations as augmentation, is the method's obvious competitor.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import resolve_device
from ..core.loop import FitConfig, Fitter, fit_or_load
from ..data import images as im
from ..data.degrade import SEEN, random_seen_degradation
from ..gan import losses, quality
from ..gan.models import init_weights
from ..gan.unet import PatchDiscriminator, UNet, apply_to_stored
from ..retrieval import protocol
from ..retrieval.vectors import l2_normalise


@dataclass
class CleanerConfig:
    width: int = 32  # channels of the U-Net's first level and of the patch discriminator
    adv_weight: float = 1.0  # 0 trains without the adversary: the ablation
    rec_weight: float = 100.0  # L1 reconstruction, pix2pix's weight (Isola et al. 2017)
    feat_weight: float = 10.0  # feature consistency 1 - cos(F(G(x~)), F(x))
    lr: float = 2e-4
    beta1: float = 0.5
    kinds: tuple = SEEN  # degradations drawn in training


def feature_consistency(classifier: nn.Module, restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    return (1 - F.cosine_similarity(classifier.body(restored), classifier.body(clean), dim=1)).mean()


def cleaner_step(G, D, classifier, opt_g, opt_d, real: torch.Tensor, degraded: torch.Tensor,
                 cfg: CleanerConfig) -> dict:
    """One step on a batch (gan form): D learns clean from restored; G learns to restore.

    G's loss: adv_weight * (non-saturating GAN loss) + rec_weight * L1 + feat_weight * (1 - cos of F).
    With adv_weight = 0, D is left untouched.
    """
    restored = G(degraded)
    stats = {}
    if cfg.adv_weight > 0:
        loss_d = losses.d_loss(D(real), D(restored.detach()))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        adv = losses.g_loss(D(restored), "non_saturating")
        stats |= {"d_loss": loss_d.detach(), "adv": adv.detach()}
    else:
        adv = torch.zeros((), device=real.device)
    rec = F.l1_loss(restored, real)
    feat = feature_consistency(classifier, restored, real)
    loss = cfg.adv_weight * adv + cfg.rec_weight * rec + cfg.feat_weight * feat
    opt_g.zero_grad(set_to_none=True)
    loss.backward()
    opt_g.step()
    return stats | {"l1": rec.detach(), "feat": feat.detach()}


def train_cleaner(name: str, classifier: nn.Module, clean_images: np.ndarray, cfg: CleanerConfig,
                  fit_cfg: FitConfig, classifier_id: str, device="auto", progress: bool = True) -> Fitter:
    """Train (or load) G and its patch discriminator on clean uint8 images degraded on the fly.

    `classifier` (F) is frozen; `classifier_id` names it so that another F retrains G.
    Returns the Fitter: `.modules["G"]`, `.modules["D"]`, `.run_dir`.
    """
    device = resolve_device(device)
    torch.manual_seed(fit_cfg.seed)
    G, D = UNet(cfg.width), PatchDiscriminator(cfg.width)
    D.apply(init_weights)
    G, D = G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    clean = im.to_unit(clean_images)
    classifier.eval().to(device)

    def step(_, idx, g):
        x = clean[idx]  # degraded on the CPU, where the step's generator draws
        real = im.unit_to_gan(x).to(device)
        degraded = im.unit_to_gan(random_seen_degradation(x, g, cfg.kinds)).to(device)
        return cleaner_step(G, D, classifier, opt_g, opt_d, real, degraded, cfg)

    classifier.requires_grad_(False)  # gradients reach G through F; F's weights stay as trained
    try:
        return fit_or_load(name, {"G": G, "D": D}, {"adam_g": opt_g, "adam_d": opt_d}, step, len(clean),
                           fit_cfg, {"cleaner": asdict(cfg), "classifier": classifier_id}, progress=progress)
    finally:
        classifier.requires_grad_(True)


def restore(G: nn.Module, stored: np.ndarray, batch_size: int = 500, device="auto") -> np.ndarray:
    """G applied to stored uint8 images; the result stored as uint8 images of the same size."""
    return apply_to_stored(G, stored, batch_size, device)


def features_and_posteriors(classifier: nn.Module, stored: np.ndarray, batch_size: int = 1000, device="auto"):
    """F's 128-d features and class posteriors of stored uint8 images."""
    feats = quality.features(classifier, im.to_gan(stored), batch_size, device)
    return feats, posteriors(classifier, feats, device)


def database_features(classifier: nn.Module, split: protocol.Split, device="auto") -> dict:
    """F's features and posteriors of both protocols' databases: {"class": split's database,
    "instance": `protocol.with_clean_copies(split)`'s}. The same-item database starts with the
    same-class one, so only the clean copies go through F; with a database of whole thousands,
    as in every profile, F sees the batches of 1,000 of one pass over the same-item database and
    gives the same numbers."""
    f_class = quality.features(classifier, im.to_gan(split.xb), 1000, device)
    f_copies = quality.features(classifier, im.to_gan(split.xq), 1000, device)
    f_instance = np.concatenate([f_class, f_copies])
    return {level: (f, posteriors(classifier, f, device))
            for level, f in (("class", f_class), ("instance", f_instance))}


@torch.no_grad()
def posteriors(classifier: nn.Module, feats: np.ndarray, device="auto") -> np.ndarray:
    """F's class posteriors from its features (the softmax of its head)."""
    logits = classifier.head(torch.from_numpy(feats).to(resolve_device(device))).cpu()
    return torch.softmax(logits, 1).numpy()


def fuse(f_original: np.ndarray, f_restored: np.ndarray, w: float) -> np.ndarray:
    """phi_w = [sqrt(w) n(F(x)); sqrt(1 - w) n(F(G(x)))]: a unit vector whose inner products are
    w-weighted sums of the two cosine similarities."""
    if not 0 <= w <= 1:
        raise ValueError(f"the fusion weight w must be in [0, 1], got {w}")
    halves = [np.sqrt(w) * l2_normalise(f_original), np.sqrt(1 - w) * l2_normalise(f_restored)]
    return np.hstack(halves).astype(np.float32)


def with_decision(fused: np.ndarray, posteriors: np.ndarray, beta: float) -> np.ndarray:
    """psi = [sqrt(1 - beta) phi; sqrt(beta) p]; rank by inner product (metric "ip")."""
    if not 0 <= beta <= 1:
        raise ValueError(f"the decision weight beta must be in [0, 1], got {beta}")
    return np.hstack([np.sqrt(1 - beta) * fused, np.sqrt(beta) * posteriors]).astype(np.float32)


def median_filter(images: np.ndarray, size: int = 3) -> np.ndarray:
    """The classical baseline: a size x size median filter on each uint8 image (N, H, W)."""
    from scipy import ndimage

    return ndimage.median_filter(np.asarray(images), size=(1, size, size))


def database_descriptors(f_db: np.ndarray, p_db: np.ndarray, w: float, beta: float) -> dict:
    """The clean database's side of every method: F's features, fused and with the decision.

    Database images are clean by construction, so they are not passed through G: their fused
    descriptor is phi_w(x) with F(x) in both halves, and a query's score against it is
    w cos(F(x~), F(x)) + (1 - w) cos(F(G(x~)), F(x)).
    """
    fused = fuse(f_db, f_db, w)
    return {"F": f_db, "fused": fused, "decision": with_decision(fused, p_db, beta)}


def query_features(classifier: nn.Module, cleaners: dict, degraded: np.ndarray, median: bool = True,
                   device="auto") -> dict:
    """{variant: (features, posteriors)} of degraded uint8 queries under F (`classifier`):
    "x~" the queries as they are, "median" after a median filter (when `median`), and "G" + suffix
    after each cleaner of `cleaners` ({suffix: G})."""
    out = {"x~": features_and_posteriors(classifier, degraded, device=device)}
    if median:
        out["median"] = features_and_posteriors(classifier, median_filter(degraded), device=device)
    for suffix, G in cleaners.items():
        out["G" + suffix] = features_and_posteriors(classifier, restore(G, degraded, device=device), device=device)
    return out


def query_descriptors(feats: dict, w: float, beta: float, name: str = "F") -> dict:
    """{method: (query descriptors, database key, metric)} from `query_features`, the database
    key naming an entry of `database_descriptors` built with the same F, w and beta.

    Methods: F on the degraded query; a median filter then F; and for each cleaner, F on G's
    output, the fused descriptor, and fused + decision. `name` names F in the methods; another
    F than chapter 5's (e.g. "F_aug") also tags the fused methods with it.
    """
    f_deg, p_deg = feats["x~"]
    tag = "" if name == "F" else f" ({name})"
    out = {f"{name} on the degraded query": (f_deg, "F", "cosine")}
    if "median" in feats:
        out[f"median filter, then {name}"] = (feats["median"][0], "F", "cosine")
    for variant, (f_res, p_res) in feats.items():
        if not variant.startswith("G"):
            continue
        suffix = variant[1:]
        fused = fuse(f_deg, f_res, w)
        out[f"{name} on G(x~){suffix}"] = (f_res, "F", "cosine")
        out[f"fused{tag}{suffix}"] = (fused, "fused", "cosine")
        out[f"fused + decision{tag}{suffix}"] = (with_decision(fused, w * p_deg + (1 - w) * p_res, beta),
                                               "decision", "ip")
    return out


def headline(split: protocol.Split) -> str:
    """The metric a weight is chosen by: MRR on the same-item protocol (a split with clean copies),
    mAP@all on the same-class one."""
    return "map_all" if split.targets is None else "mrr"


def evaluate(method: str, q: np.ndarray, db: np.ndarray, split: protocol.Split, metric: str,
             per_query: dict | None = None, **extra) -> dict:
    """One results row in the split's protocol: same item when it holds clean copies
    (`protocol.evaluate_instance`), else same class (`protocol.evaluate`). No row of chapter 5
    is label-free: F was trained with labels."""
    if split.targets is not None:
        return protocol.evaluate_instance(method, q, db, split, metric, per_query=per_query, **extra)
    return protocol.evaluate(method, q, db, split, metric, label_free=False, progress=False,
                             per_query=per_query, **extra)


def choose_weights(feats: dict, f_db: np.ndarray, p_db: np.ndarray, split: protocol.Split, weights,
                   name: str = "F") -> dict:
    """Study w with beta = 0, then beta at the best w, on validation queries; each is chosen by
    the best mean over the degradations of `headline(split)`.

    `feats` is {kind: `query_features` of the validation queries degraded by that kind, with one
    cleaner ""}; `f_db`, `p_db` are F's features and posteriors of the split's database.
    Returns {"w": {kind: [score per weight]}, "beta": {...}, "w_best": ..., "beta_best": ...}.
    """
    tag = "" if name == "F" else f" ({name})"

    def curve(method, settings):
        values = {kind: [] for kind in feats}
        for w, beta in settings:
            db = database_descriptors(f_db, p_db, w, beta)
            for kind, f in feats.items():
                q, key, metric = query_descriptors(f, w, beta, name)[method]
                values[kind].append(evaluate(method, q, db[key], split, metric)[headline(split)])
        best = int(np.argmax(np.mean(list(values.values()), axis=0)))
        return values, best

    w_curves, best = curve(f"fused{tag}", [(w, 0.0) for w in weights])
    w_best = weights[best]
    beta_curves, best = curve(f"fused + decision{tag}", [(w_best, b) for b in weights])
    return {"w": w_curves, "beta": beta_curves, "w_best": w_best, "beta_best": weights[best]}


def cleaner_differences(restored: dict, reference: np.ndarray, classifier: nn.Module, device="auto") -> dict:
    """How far each cleaner's outputs ({name: uint8 images}) are from the clean `reference`
    images: mean absolute pixel error (0..1 scale) and the Fréchet distance in F's feature space
    (`quality.frechet_distance`, FD-FMNIST when F is the book's classifier)."""
    ref_feats = features_and_posteriors(classifier, reference, device=device)[0]
    out = {}
    for name, images in restored.items():
        feats = features_and_posteriors(classifier, images, device=device)[0]
        pixel = np.abs(images.astype(np.float32) - reference.astype(np.float32)).mean() / 255
        out[name] = {"pixel_l1": float(pixel), "fd": quality.frechet_distance(feats, ref_feats)}
    return out


# pragma: no mutate start (a drawing, read by eye in chapter 5)
def diagram():
    """The AFA-SVR pipeline of chapter 5 as a block diagram (retrieval path, and G's training)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 3.2))
    ax.set(xlim=(0, 17), ylim=(0, 6.4))
    ax.set_axis_off()
    boxes = {
        "q": (0.2, 4.2, "degraded\nquery x~"), "G": (3.0, 4.2, "G\n(U-Net cleaner)"),
        "Gq": (6.0, 4.2, "G(x~)"), "F1": (3.0, 2.2, "F (CNN)"), "F2": (8.6, 4.2, "F (CNN)"),
        "fuse": (11.2, 3.2, "fuse\n[sqrt(w) f; sqrt(1-w) f_G]"),
        "post": (11.2, 1.2, "posteriors p\n(F's head)"), "score": (14.6, 2.2, "score\n(1-b) phi.phi + b p.p"),
        "D": (6.0, 5.6, "patch D (training only)"),
    }
    for key, (x, y, text) in boxes.items():
        style = dict(boxstyle="round,pad=0.3", fc="#fde0c5" if key in ("G", "D") else "#dbe9f6",
                     ec="#666", ls="--" if key == "D" else "-")
        ax.text(x, y, text, fontsize=7, ha="left", va="center", bbox=style)
    arrows = [((1.5, 4.2), (2.9, 4.2)), ((4.9, 4.2), (5.9, 4.2)), ((7.0, 4.2), (8.5, 4.2)),
              ((1.0, 3.8), (2.9, 2.3)), ((9.8, 4.1), (11.1, 3.4)), ((4.4, 2.2), (11.1, 3.0)),
              ((4.4, 2.1), (11.1, 1.3)), ((9.8, 4.0), (11.1, 1.5)), ((14.0, 3.1), (14.5, 2.4)),
              ((13.4, 1.3), (14.5, 2.0)), ((6.5, 4.5), (6.6, 5.3))]
    for start, end in arrows:
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="#444", lw=0.9))
    ax.text(0.2, 0.3, "training of G: L = adv (patch D) + 100 L1(G(x~), x) + 10 (1 - cos(F(G(x~)), F(x))); "
            "F frozen (it was trained with labels)", fontsize=7)
    return fig
# pragma: no mutate end
