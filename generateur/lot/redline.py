"""Écarts entre deux versions des clauses d'une consultation, pour un document en modifications suivies.

Le texte d'une clause est relu dans les documents produits : c'est celui que voit le lecteur, valeurs
calculées et renvois compris. difflib aligne les paragraphes puis les mots ; `ooxml` écrit les marques
de révision (w:ins / w:del) que Word et LibreOffice permettent d'accepter ou de refuser.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import TYPE_CHECKING


from ..pieces.blocs import Bloc, Paragraphe, ParagrapheRevise, Segment, Titre
from ..rendu.documents import produire
from ..rendu.generation import modele_de, variables_modele
from ..rendu.ooxml import W_NS
from ..droit.regles import Analyse
from .textes import Ligne

if TYPE_CHECKING:
    from .rapport_changements import ChangementClause

_W = f"{{{W_NS}}}"
_TITRE = re.compile(r"^(?:Article )?(\d+(?:\.\d+)?)\s*–\s*(.*)$", re.DOTALL)
_MOTS = re.compile(r"\s+|\S+")
# En deçà de cette ressemblance, deux paragraphes sont montrés supprimé puis inséré, pas mot à mot.
RESSEMBLANCE_MINIMALE = 0.4


def _mots(ancien: str, nouveau: str, comparaison: SequenceMatcher | None = None) -> list[tuple[str, str]]:
    """Morceaux « = », « - », « + » d'un paragraphe modifié, mot à mot (`comparaison` : celle des mots des deux
    textes, si elle est déjà faite).

    Un blanc inchangé entre deux modifications est absorbé : « -a b c+x y z » plutôt qu'une alternance
    illisible « -a+x -b+y -c+z ».
    """
    if comparaison is None:
        comparaison = SequenceMatcher(None, _MOTS.findall(ancien), _MOTS.findall(nouveau), autojunk=False)
    a, b = comparaison.a, comparaison.b
    operations = []
    for tag, i1, i2, j1, j2 in comparaison.get_opcodes():
        operations.append((tag == "equal", "".join(a[i1:i2]), "".join(b[j1:j2])))
    for k in range(1, len(operations) - 1):
        egal, texte, _ = operations[k]
        if egal and not texte.strip() and not operations[k - 1][0] and not operations[k + 1][0]:
            operations[k] = (False, texte, texte)
    morceaux: list[tuple[str, str]] = []
    supprime = insere = ""
    for egal, vieux, neuf in operations + [(True, "", "")]:
        if not egal:
            supprime += vieux
            insere += neuf
            continue
        morceaux += [(g, t) for g, t in (("-", supprime), ("+", insere)) if t]
        supprime = insere = ""
        if vieux:
            morceaux.append(("=", vieux))
    return morceaux


def differences(anciens: list[Ligne], nouveaux: list[Ligne]) -> list[ParagrapheRevise]:
    """Paragraphes d'une clause, de l'ancienne à la nouvelle version, avec les modifications marquées."""
    resultat: list[ParagrapheRevise] = []

    def supprime(p: Ligne) -> None:
        resultat.append(ParagrapheRevise([("-", p.texte)], p.style, marque="-"))

    def insere(p: Ligne) -> None:
        resultat.append(ParagrapheRevise([("+", p.texte)], p.style, marque="+"))

    for tag, i1, i2, j1, j2 in SequenceMatcher(None, anciens, nouveaux, autojunk=False).get_opcodes():
        if tag == "equal":
            resultat += [ParagrapheRevise([("=", p.texte)], p.style) for p in anciens[i1:i2]]
            continue
        vieux, neufs = anciens[i1:i2], nouveaux[j1:j2]
        for k in range(max(len(vieux), len(neufs))):
            if k < len(vieux) and k < len(neufs):
                a, b = vieux[k].texte, neufs[k].texte
                # une seule comparaison des mots : sa ressemblance, puis ses opérations (mêmes blocs communs)
                comparaison = SequenceMatcher(None, _MOTS.findall(a), _MOTS.findall(b), autojunk=False)
                if comparaison.ratio() >= RESSEMBLANCE_MINIMALE:
                    resultat.append(ParagrapheRevise(_mots(a, b, comparaison), neufs[k].style))
                else:
                    supprime(vieux[k])
                    insere(neufs[k])
            elif k < len(vieux):
                supprime(vieux[k])
            else:
                insere(neufs[k])
    return resultat


def _version(c: ChangementClause) -> str:
    if c.ancienne_version == c.nouvelle_version or c.ancienne_version is None or c.nouvelle_version is None:
        return f"version {c.nouvelle_version or c.ancienne_version}"
    return f"version {c.ancienne_version} → {c.nouvelle_version}"


def document(analyse: Analyse, changements: list[ChangementClause], version_precedente: str | None,
             nouvelle_version: str | None) -> bytes:
    """Document Word des clauses modifiées d'une consultation, en modifications suivies, dans le modèle de l'acheteur."""
    blocs: list[Bloc] = [Paragraphe([Segment(
        f"Ce document montre les clauses de la consultation {analyse.contexte['reference']} qui diffèrent entre la "
        f"version {version_precedente} et la version {nouvelle_version} du dossier. Les ajouts et les suppressions "
        "sont des modifications suivies : Word et LibreOffice permettent de les accepter ou de les refuser une à une.")])]
    titres: list[Titre] = []
    ordre = {d: i for i, d in enumerate(analyse.catalogue.documents)}
    for i, c in enumerate(sorted(changements, key=lambda c: (ordre.get(c.document, 99), _cle_article(c), c.id)), 1):
        article = c.nouvel_article or c.ancien_article
        if c.ancien_article and c.nouvel_article and c.ancien_article != c.nouvel_article:
            article = f"{c.nouvel_article} (anciennement {c.ancien_article})"
        titre = Titre(1, f"{c.document}, article {article} – {c.titre}", f"_Toc_modif_{i}")
        blocs.append(titre)
        titres.append(titre)
        blocs.append(Paragraphe([Segment(f"Clause {c.id}, {_version(c)}, {c.nature} : ", True),
                                 Segment(c.cause, italique=True)]))
        blocs.extend(differences(c.anciens, c.nouveaux))
    modele = modele_de(analyse, "CCAP")
    return produire(modele, variables_modele(analyse, "Modifications", "Modifications des clauses"), blocs, titres)


def _cle_article(c: ChangementClause) -> list[int]:
    return [int(x) for x in (c.nouvel_article or c.ancien_article or "0").split(".") if x.isdigit()]
