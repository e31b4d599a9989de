"""Graphiques du bilan SPASER (matplotlib, sans affichage) : PNG lisibles une fois la page imprimée.

Largeur prévue, à 150 points par pouce : la largeur utile d'une page A4 (16 cm) ; polices d'au moins 9 points à cette taille.
Rien ne doit sortir de l'image : la mise en page « constrained » place titres, graduations et légendes ; les
étiquettes des barres, qu'elle ignore, sont mesurées une fois dessinées et l'échelle est élargie pour qu'elles
tiennent dans le cadre. Les échelles de comptes (consultations, heures, milliers d'euros) sont graduées en entiers.
Chaque graphique existe en figure (`figure_…`, pour les tests et les vérifications) et en PNG.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from ..donnees.formats import nombre, pourcent  # noqa: E402

LARGEUR_CM = 16
DPI = 150  # 945 points sur 16 cm : net à l’impression, rapide à produire
COULEURS = ["#1f4e79", "#2e8b57", "#c0504d", "#8064a2", "#f2a33a", "#4bacc6"]
STYLE = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "xtick.labelsize": 10, "ytick.labelsize": 10,
         "legend.fontsize": 9, "font.family": "DejaVu Sans", "axes.spines.top": False, "axes.spines.right": False,
         "svg.hashsalt": "dce"}
CLAIR = "#a6a6a6"  # seconde série, moins importante (obligations légales seules)
PROCHE = 12  # points de pourcentage : une cible plus proche du haut de la barre croiserait son étiquette
MARGE_PX = 4  # espace laissé entre une étiquette et le bord du cadre, en pixels de la figure


def _png(figure: Any) -> bytes:
    tampon = io.BytesIO()
    figure.savefig(tampon, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return tampon.getvalue()


def _figure(hauteur_cm: float, colonnes: int = 1) -> tuple[Any, Any]:
    with plt.rc_context(STYLE):
        return plt.subplots(1, colonnes, figsize=(LARGEUR_CM / 2.54, hauteur_cm / 2.54), layout="constrained")


def _entiers(axe: Any, horizontal: bool = False) -> None:
    """Graduations entières (jamais « 0, 0, 0, 1, 1, 1 »), écrites à la française."""
    axis = axe.xaxis if horizontal else axe.yaxis
    axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10], min_n_ticks=1))
    axis.set_major_formatter(FuncFormatter(lambda v, _: nombre(v)))


def _faire_tenir(figure: Any, axe: Any, etiquettes: list[tuple[Any, float]], horizontal: bool) -> None:
    """Élargit l'échelle jusqu'à ce que chaque étiquette (texte, valeur de sa barre) tienne dans le cadre.

    Une étiquette est posée à distance fixe (en points) du bout de sa barre : si le cadre mesure L pixels et
    l'étiquette dépasse le bout de la barre de d pixels, la borne doit valoir au moins valeur × L / (L − d − marge).
    """
    for _ in range(3):  # la mise en page bouge un peu quand l'échelle change : deux passes suffisent
        figure.canvas.draw()
        rendu = figure.canvas.get_renderer()
        cadre = axe.get_window_extent(rendu)
        longueur = cadre.width if horizontal else cadre.height
        bas, haut = axe.get_xlim() if horizontal else axe.get_ylim()
        borne = haut
        for texte, valeur in etiquettes:
            boite = texte.get_window_extent(rendu)
            bout = (cadre.x0 if horizontal else cadre.y0) + (valeur - bas) / (haut - bas) * longueur
            depasse = (boite.x1 if horizontal else boite.y1) - bout
            if longueur - depasse - MARGE_PX > 0:
                borne = max(borne, bas + (valeur - bas) * longueur / (longueur - depasse - MARGE_PX))
        if borne <= haut:
            return
        (axe.set_xlim if horizontal else axe.set_ylim)(bas, borne)


def figure_parts_et_cibles(annees: list[int], series: list[tuple[str, list[float | None], list[float | None]]]) -> Any:
    """Barres groupées : part (en %) de chaque indicateur par année ; trait noir = cible de l'année.

    L'étiquette de la valeur est posée au-dessus de la barre ; si le trait de la cible passe juste au-dessus, elle
    est posée au-dessus du trait : le trait ne la barre jamais.
    """
    with plt.rc_context(STYLE):
        figure, axe = _figure(9 + 0.5 * len(series))
        largeur = 0.8 / max(len(series), 1)
        poignees, cible = [], None
        etiquettes = []
        for i, (libelle, valeurs, cibles) in enumerate(series):
            xs = [k + (i - (len(series) - 1) / 2) * largeur for k in range(len(annees))]
            barres = axe.bar(xs, [v or 0 for v in valeurs], largeur * 0.92, label=textwrap.fill(libelle, 38),
                             color=COULEURS[i % len(COULEURS)])
            poignees.append(barres)
            for x, v, c in zip(xs, valeurs, cibles):
                dessus = c if c is not None and 0 <= c - (v or 0) <= PROCHE else (v or 0)
                texte = axe.annotate(pourcent(round(v)) if v is not None else "aucune", (x, dessus), xytext=(0, 4),
                                     textcoords="offset points", ha="center", va="bottom", fontsize=9)
                etiquettes.append((texte, dessus))
            points = [(x, c) for x, c in zip(xs, cibles) if c is not None]
            if points:
                cible = axe.scatter([x for x, _ in points], [c for _, c in points], marker="_", s=900 * largeur,
                                    linewidths=3, color="black", zorder=3, label="Cible de l'année")
        axe.set_xticks(range(len(annees)), [str(a) for a in annees])
        axe.set_ylim(0, 100)
        axe.set_yticks(range(0, 101, 20))
        axe.yaxis.set_major_formatter(FuncFormatter(lambda v, _: pourcent(int(v))))
        axe.set_ylabel("Part des consultations")
        figure.legend(handles=poignees + ([cible] if cible is not None else []), loc="outside lower center", ncol=2,
                      frameon=False)
        axe.grid(axis="y", alpha=0.3)
        _faire_tenir(figure, axe, etiquettes, horizontal=False)
        return figure


def figure_barres_horizontales(libelles: list[str], valeurs: list[float], etiquettes: list[str], titre_axe: str,
                               largeur_libelle: int = 52,
                               seconde: tuple[str, str, list[float], list[str]] | None = None) -> Any:
    """Une barre par ligne (chantiers, valeurs DECP), dans l'ordre donné, de haut en bas.

    `seconde` : (légende de la première série, légende de la seconde, valeurs, étiquettes) — une seconde barre,
    plus claire, sous la première de chaque ligne (chantiers touchés par les seules obligations légales)."""
    with plt.rc_context(STYLE):
        figure, axe = _figure(1.6 + (1.0 if seconde else 0.75) * len(libelles) + (0.8 if seconde else 0))
        noms = [textwrap.shorten(l, largeur_libelle, placeholder="…") for l in libelles]
        positions = list(range(len(libelles)))[::-1]
        if seconde is None:
            barres = axe.barh(positions, valeurs, 0.7, color=COULEURS[0])
            textes = axe.bar_label(barres, labels=etiquettes, padding=3, fontsize=9)
            reperes = list(zip(textes, valeurs))
        else:
            legende, legende_seconde, valeurs_secondes, etiquettes_secondes = seconde
            barres = axe.barh([p + 0.2 for p in positions], valeurs, 0.38, color=COULEURS[0], label=legende)
            barres_secondes = axe.barh([p - 0.2 for p in positions], valeurs_secondes, 0.38, color=CLAIR,
                                       label=legende_seconde)
            textes = axe.bar_label(barres, labels=etiquettes, padding=3, fontsize=8)
            textes_secondes = axe.bar_label(barres_secondes, labels=etiquettes_secondes, padding=3, fontsize=8)
            reperes = list(zip(textes, valeurs)) + list(zip(textes_secondes, valeurs_secondes))
            figure.legend(loc="outside lower center", ncol=2, frameon=False)
            valeurs = valeurs + valeurs_secondes
        axe.set_yticks(positions, noms)
        axe.set_xlim(0, max(valeurs + [1]))
        _entiers(axe, horizontal=True)
        # titre de l'axe aligné sur la droite du cadre : il ne déborde pas quand les libellés occupent la gauche
        axe.set_xlabel(titre_axe, loc="right")
        axe.grid(axis="x", alpha=0.3)
        _faire_tenir(figure, axe, reperes, horizontal=True)
        return figure


def figure_deux_sommes(annees: list[int], heures: list[float], montants: list[float]) -> Any:
    """Heures d'insertion et montant des consultations avec commerce équitable, par année."""
    with plt.rc_context(STYLE):
        figure, (gauche, droite) = _figure(7.5, 2)
        for axe, valeurs, titre, couleur in (
                (gauche, heures, "Heures d'insertion prévues", COULEURS[1]),
                (droite, [m / 1000 for m in montants], "Commerce équitable (k€ HT)", COULEURS[4])):
            barres = axe.bar([str(a) for a in annees], valeurs, 0.6, color=couleur)
            textes = axe.bar_label(barres, labels=[nombre(v) for v in valeurs], padding=2, fontsize=9)
            axe.set_title(titre)
            axe.set_ylim(0, max(valeurs + [1]))
            _entiers(axe)
            axe.grid(axis="y", alpha=0.3)
            _faire_tenir(figure, axe, list(zip(textes, valeurs)), horizontal=False)
        return figure


def parts_et_cibles(annees: list[int], series: list[tuple[str, list[float | None], list[float | None]]]) -> bytes:
    return _png(figure_parts_et_cibles(annees, series))


def barres_horizontales(libelles: list[str], valeurs: list[float], etiquettes: list[str], titre_axe: str,
                        largeur_libelle: int = 52,
                        seconde: tuple[str, str, list[float], list[str]] | None = None) -> bytes:
    return _png(figure_barres_horizontales(libelles, valeurs, etiquettes, titre_axe, largeur_libelle, seconde))


def deux_sommes(annees: list[int], heures: list[float], montants: list[float]) -> bytes:
    return _png(figure_deux_sommes(annees, heures, montants))
