"""Importer une clause Word existante : .docx → fichier de clause Markdown avec métadonnées à compléter.

pandoc (par pypandoc) convertit le document en Markdown GitHub ; on ramène ensuite ce Markdown à ce
que le moteur accepte (paragraphes, gras, italique, listes, tableaux à ligne d'en-tête, sous-titres
`###`), on neutralise tout ce que Jinja prendrait pour une instruction, et on ajoute un squelette de
métadonnées dont les valeurs « A_COMPLETER » sont signalées par `dce catalogue verifier`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

from ..droit.verification import A_COMPLETER
from ..pieces.texte_technique import convertir, normaliser

__all__ = ["A_COMPLETER", "clause", "convertir", "identifiant", "nettoyer"]


def nettoyer(markdown: str) -> tuple[str, str | None]:
    """Markdown de pandoc → Markdown du moteur ; retourne (corps, titre trouvé)."""
    trouve: list[str] = []

    def titre(niveau: int, intitule: str, lignes: list[str]) -> str | None:
        if not trouve and not any(l.strip() for l in lignes):
            trouve.append(intitule)  # premier titre du document : titre de la clause
            return None
        return f"### {intitule}"

    corps = normaliser(markdown, titre)
    # tout ce qui ressemble à une instruction Jinja est du texte
    corps = re.sub(r"(\{\{|\{%|\{#)", lambda m: "{{ '" + m.group(1) + "' }}", corps)
    return corps, (trouve[0] if trouve else None)


def identifiant(document: str, nom: str) -> str:
    base = unicodedata.normalize("NFKD", nom).encode("ascii", "ignore").decode("ascii").lower()
    base = re.sub(r"[^a-z0-9]+", "-", base).strip("-") or "clause"
    prefixe = document.lower() + "-"
    return base if base.startswith(prefixe) else prefixe + base


def _yaml_chaine(texte: str) -> str:
    return '"' + texte.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clause(fichier: Path, document: str, articles: list[str], ident: str | None = None, article: str | None = None,
           titre: str | None = None, aujourd_hui: dt.date | None = None) -> tuple[str, str, list[str]]:
    """Texte complet du fichier de clause : (identifiant, texte, champs à compléter)."""
    corps, titre_trouve = nettoyer(convertir(fichier))
    titre = titre or titre_trouve
    ident = ident or identifiant(document, fichier.stem)
    jour = (aujourd_hui or dt.date.today()).strftime("%d/%m/%Y")
    a_completer = ["en_vigueur", "references"] + ([] if article else ["article"]) + ([] if titre else ["titre"])
    entete = [
        "---",
        f"id: {ident}",
        "version: 1",
        f"en_vigueur: {{du: {A_COMPLETER}}}   # date d'effet du droit cité (AAAA-MM-JJ) ; ajouter « au: » à la version suivante",
        f"titre: {_yaml_chaine(titre) if titre else A_COMPLETER}",
        f"document: {document}",
        f"article: {article or A_COMPLETER}   # article du plan du {document} : {', '.join(articles)}",
        "ordre: 100                 # rang dans l'article (10, 20, 30…)",
        "actions: []                # actions du SPASER mises en œuvre, par exemple [\"6.2\"]",
        f"references: [\"{A_COMPLETER}\"]   # articles cités, par exemple [\"CCP L2112-2\"]",
        "statut_juridique: non_verifie",
        "note_juridique: " + _yaml_chaine(f"Clause importée de « {fichier.name} » le {jour} : références, dates "
                                          "d'effet, règle de sélection et variables à vérifier."),
        "condition: \"true\"          # règle de sélection : expression sur les réponses, \"true\" = toujours retenue",
        "quand: \"toujours\"          # la même règle écrite en français, affichée par la fiche de traçabilité",
        "portee: consultation",
        "s_applique_a: toutes        # champ d'application, ou {natures: [fournitures, services], familles: [nettoyage]}",
        "variables: []",
        "decp: []",
        "---",
    ]
    return ident, "\n".join(entete) + "\n" + corps, a_completer
