"""Graphiques du bilan SPASER (matplotlib, sans affichage) : PNG lisibles une fois la page imprimée.

Largeur prévue, à 150 points par pouce : la largeur utile d'une page A4 (16 cm) ; polices d'au moins 9 points à cette taille.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from ..donnees.formats import nombre, pourcent  # noqa: E402

LARGEUR_CM = 16
DPI = 150  # 945 points sur 16 cm : net à l’impression, rapide à produire
COULEURS = ["#1f4e79", "#2e8b57", "#c0504d", "#8064a2", "#f2a33a", "#4bacc6"]
STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 10, "ytick.labelsize": 10,
         "legend.fontsize": 9, "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False,
         "svg.hashsalt": "dce"}


def _png(figure: Any) -> bytes:
    tampon = io.BytesIO()
    figure.savefig(tampon, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return tampon.getvalue()


def _figure(hauteur_cm: float, colonnes: int = 1) -> tuple[Any, Any]:
    with plt.rc_context(STYLE):
        return plt.subplots(1, colonnes, figsize=(LARGEUR_CM / 2.54, hauteur_cm / 2.54), layout="constrained")


def parts_et_cibles(annees: list[int], series: list[tuple[str, list[float | None], list[float | None]]]) -> bytes:
    """Barres groupées : part (en %) de chaque indicateur par année ; trait noir = cible de l'année."""
    with plt.rc_context(STYLE):
        figure, axe = _figure(9 + 0.5 * len(series))
        largeur = 0.8 / max(len(series), 1)
        poignees, cible = [], None
        for i, (libelle, valeurs, cibles) in enumerate(series):
            xs = [k + (i - (len(series) - 1) / 2) * largeur for k in range(len(annees))]
            barres = axe.bar(xs, [v or 0 for v in valeurs], largeur * 0.92, label=textwrap.fill(libelle, 38),
                             color=COULEURS[i % len(COULEURS)])
            poignees.append(barres)
            axe.bar_label(barres, labels=[pourcent(round(v)) if v is not None else "—" for v in valeurs], padding=3,
                          fontsize=9)
            points = [(x, c) for x, c in zip(xs, cibles) if c is not None]
            if points:
                cible = axe.scatter([x for x, _ in points], [c for _, c in points], marker="_", s=900 * largeur,
                                    linewidths=3, color="black", zorder=3, label="Cible de l'année")
        axe.set_xticks(range(len(annees)), [str(a) for a in annees])
        axe.set_ylim(0, 118)
        axe.yaxis.set_major_formatter(FuncFormatter(lambda v, _: pourcent(int(v))))
        axe.set_ylabel("Part des consultations")
        figure.legend(handles=poignees + ([cible] if cible is not None else []), loc="outside lower center", ncol=2,
                      frameon=False)
        axe.grid(axis="y", alpha=0.3)
        return _png(figure)


def barres_horizontales(libelles: list[str], valeurs: list[float], etiquettes: list[str], titre_axe: str,
                        largeur_libelle: int = 52) -> bytes:
    """Une barre par ligne (chantiers, valeurs DECP), la plus haute en premier."""
    with plt.rc_context(STYLE):
        figure, axe = _figure(1.6 + 0.75 * len(libelles))
        noms = [textwrap.shorten(l, largeur_libelle, placeholder="…") for l in libelles]
        positions = list(range(len(libelles)))[::-1]
        barres = axe.barh(positions, valeurs, 0.7, color=COULEURS[0])
        axe.bar_label(barres, labels=etiquettes, padding=3, fontsize=9)
        axe.set_yticks(positions, noms)
        axe.set_xlim(0, max(valeurs + [1]) * 1.25)
        axe.xaxis.set_major_formatter(FuncFormatter(lambda v, _: nombre(v)))
        axe.xaxis.get_major_locator().set_params(integer=True)
        axe.set_xlabel(titre_axe)
        axe.grid(axis="x", alpha=0.3)
        return _png(figure)


def deux_sommes(annees: list[int], heures: list[float], montants: list[float]) -> bytes:
    """Heures d'insertion et montant des consultations avec commerce équitable, par année."""
    with plt.rc_context(STYLE):
        figure, (gauche, droite) = _figure(7.5, 2)
        for axe, valeurs, titre, format_, couleur in (
                (gauche, heures, "Heures d'insertion prévues", lambda v: nombre(v), COULEURS[1]),
                (droite, [m / 1000 for m in montants], "Commerce équitable (k€ HT)",
                 lambda v: nombre(v), COULEURS[4])):
            barres = axe.bar([str(a) for a in annees], valeurs, 0.6, color=couleur)
            axe.bar_label(barres, labels=[format_(v) for v in valeurs], padding=2, fontsize=9)
            axe.set_title(titre)
            axe.set_ylim(0, max(valeurs + [1]) * 1.2)
            axe.yaxis.set_major_formatter(FuncFormatter(lambda v, _: nombre(v)))
            axe.grid(axis="y", alpha=0.3)
        return _png(figure)

