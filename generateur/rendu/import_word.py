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
from html.parser import HTMLParser
from pathlib import Path

from ..erreurs import ErreurDonnees, Probleme
from ..droit.verification import A_COMPLETER


def convertir(fichier: Path) -> str:
    """Markdown GitHub produit par pandoc, sans retour à la ligne forcé."""
    import pypandoc

    try:
        return pypandoc.convert_file(str(fichier), "gfm", format="docx", extra_args=["--wrap=none"])
    except (RuntimeError, OSError) as exc:
        raise ErreurDonnees(Probleme(f"conversion du document Word impossible ({str(exc).strip()[:200]})", fichier)) \
            from None


class _TableauHTML(HTMLParser):
    """Tableau HTML complexe (cellules à plusieurs paragraphes) → lignes de cellules en texte."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lignes: list[list[str]] = []
        self.cellule: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.lignes.append([])
        elif tag in ("td", "th"):
            self.cellule = []
        elif tag in ("p", "li", "br") and self.cellule:
            self.cellule.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cellule is not None and self.lignes:
            self.lignes[-1].append(" ".join("".join(self.cellule).split()))
            self.cellule = None

    def handle_data(self, data: str) -> None:
        if self.cellule is not None:
            self.cellule.append(data)


def _tableau_pipe(lignes: list[list[str]]) -> str:
    if not lignes:
        return ""
    n = max(len(l) for l in lignes)
    lignes = [l + [""] * (n - len(l)) for l in lignes]

    def rang(l: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in l) + " |"

    return "\n".join([rang(lignes[0]), "|" + "---|" * n] + [rang(l) for l in lignes[1:]])


_LIEN = re.compile(r"(?<!!)\[([^\]]*)\]\([^)]*\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?")
_BALISE = re.compile(r"</?[A-Za-z][^>]*>")
_COMMENTAIRE = re.compile(r"<!--.*?-->", re.DOTALL)
_LISTE = re.compile(r"^( *)([-*+]|\d+[.)])( +)(.*)$")


def _listes(lignes: list[str]) -> list[str]:
    """Listes : retrait de 4 espaces par niveau, marqueurs « - » et « 1. », sans ligne vide entre éléments."""
    sortie: list[str] = []
    pile: list[int] = []  # retraits des marqueurs ouverts
    for i, ligne in enumerate(lignes):
        m = _LISTE.match(ligne)
        if m:
            retrait = len(m.group(1))
            while pile and retrait < pile[-1]:
                pile.pop()
            if not pile or retrait > pile[-1]:
                pile.append(retrait)
            niveau = len(pile) - 1
            marqueur = "-" if m.group(2) in "-*+" else "1."
            precedent = _LISTE.match(sortie[-2]) if len(sortie) > 1 and sortie[-1] == "" else None
            if precedent and (precedent.group(2) in "-*+") == (marqueur == "-"):
                sortie.pop()  # liste « lâche » de pandoc : éléments resserrés
            elif sortie and sortie[-1] != "" and not _LISTE.match(sortie[-1]):
                sortie.append("")  # une ligne vide avant toute liste
            sortie.append(" " * (4 * niveau) + f"{marqueur} {m.group(4)}")
            continue
        if ligne.strip() and pile and ligne.startswith(" "):
            # suite d'un élément de liste (second paragraphe) : rattachée à l'élément
            sortie.append(" " * (4 * len(pile)) + ligne.strip())
            continue
        if ligne.strip():
            pile = []
        sortie.append(ligne)
    return sortie


def nettoyer(markdown: str) -> tuple[str, str | None]:
    """Markdown de pandoc → Markdown du moteur ; retourne (corps, titre trouvé)."""
    texte = _COMMENTAIRE.sub("", markdown.replace("\r\n", "\n"))
    # tableaux HTML (cellules complexes) → tableaux à barres
    while "<table" in texte:
        debut = texte.index("<table")
        fin = texte.find("</table>", debut)
        fin = len(texte) if fin < 0 else fin + len("</table>")
        lecteur = _TableauHTML()
        lecteur.feed(texte[debut:fin])
        texte = texte[:debut] + "\n\n" + _tableau_pipe(lecteur.lignes) + "\n\n" + texte[fin:]
    texte = _IMAGE.sub("", texte)
    texte = _LIEN.sub(r"\1", texte)
    texte = _BALISE.sub("", texte)
    titre: str | None = None
    lignes: list[str] = []
    for ligne in texte.split("\n"):
        ligne = ligne.rstrip()
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*$", ligne)
        if re.fullmatch(r"\s*([-*_]\s*){3,}", ligne) and not (lignes and lignes[-1].startswith("|")):
            continue  # filet horizontal : sans équivalent dans une clause
        if m:
            intitule = m.group(1).replace("\\", "").strip()
            if titre is None and not any(l.strip() for l in lignes):
                titre = intitule  # premier titre du document : titre de la clause
                continue
            ligne = f"### {intitule}"
            if lignes and lignes[-1] != "":
                lignes.append("")
        elif re.match(r"^\|?\s*:?-{3,}", ligne) and "|" in ligne:
            colonnes = ligne.strip().strip("|").count("|") + 1
            ligne = "|" + "---|" * colonnes
        elif ligne.startswith("|") and lignes and lignes[-1] != "" and not lignes[-1].startswith("|"):
            lignes.append("")  # une ligne vide avant tout tableau
        lignes.append(ligne)
    lignes = _listes(lignes)
    corps = "\n".join(lignes)
    corps = re.sub(r"\n{3,}", "\n\n", corps).strip("\n") + "\n"
    # tout ce qui ressemble à une instruction Jinja est du texte
    corps = re.sub(r"(\{\{|\{%|\{#)", lambda m: "{{ '" + m.group(1) + "' }}", corps)
    return corps, titre


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
