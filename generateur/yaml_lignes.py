"""Lecture sûre des fichiers YAML, avec le numéro de ligne de chaque champ.

PyYAML compose l'arbre des nœuds (chargement sûr : aucune balise Python) ; on le convertit
nous-mêmes pour relever la ligne de chaque chemin et refuser les clés en double.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .erreurs import ErreurDonnees, Probleme

# libyaml (CSafeLoader) quand PyYAML l'embarque : même analyse sûre, dix fois plus rapide.
_Chargeur = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
TAILLE_MAX = 5 * 1024 * 1024  # 5 Mio : bien au-delà d'un fichier de réponses réel


@dataclass
class Document:
    """Données YAML lues et, pour chaque chemin (« lots.0.intitule »), sa ligne."""

    donnees: Any
    fichier: Path | str
    lignes: dict[str, int] = field(default_factory=dict)

    def ligne(self, chemin: str) -> int | None:
        """Ligne du chemin, ou du plus proche parent connu."""
        while chemin:
            if chemin in self.lignes:
                return self.lignes[chemin]
            chemin = chemin.rpartition(".")[0]
        return self.lignes.get("", None)


_BALISES_SURES = {f"tag:yaml.org,2002:{t}" for t in
                  ("map", "seq", "str", "int", "float", "bool", "null", "timestamp", "binary", "merge")}


def _construire(noeud: yaml.Node, chemin: str, doc: Document, chargeur: yaml.SafeLoader,
                problemes: list[Probleme]) -> Any:
    doc.lignes.setdefault(chemin, noeud.start_mark.line + 1)
    if noeud.tag not in _BALISES_SURES:
        problemes.append(Probleme(f"balise YAML non autorisée « {noeud.tag} »", doc.fichier,
                                  noeud.start_mark.line + 1, chemin or None))
        return None
    if isinstance(noeud, yaml.MappingNode):
        resultat: dict[str, Any] = {}
        chargeur.flatten_mapping(noeud)
        for cle_noeud, valeur_noeud in noeud.value:
            cle = chargeur.construct_object(cle_noeud, deep=True)
            if not isinstance(cle, (str, int, float, bool)) or cle is None:
                problemes.append(Probleme("clé invalide", doc.fichier, cle_noeud.start_mark.line + 1))
                continue
            cle = str(cle)
            sous = f"{chemin}.{cle}" if chemin else cle
            if cle in resultat:
                problemes.append(Probleme("clé en double", doc.fichier, cle_noeud.start_mark.line + 1, sous))
                continue
            doc.lignes[sous] = cle_noeud.start_mark.line + 1
            resultat[cle] = _construire(valeur_noeud, sous, doc, chargeur, problemes)
        return resultat
    if isinstance(noeud, yaml.SequenceNode):
        return [
            _construire(n, f"{chemin}.{i}" if chemin else str(i), doc, chargeur, problemes)
            for i, n in enumerate(noeud.value)
        ]
    return chargeur.construct_object(noeud, deep=True)


def lire_texte(texte: str, fichier: Path | str) -> Document:
    """Analyse un texte YAML ; lève ErreurDonnees avec fichier et ligne."""
    doc = Document(None, fichier)
    problemes: list[Probleme] = []
    try:
        chargeur = _Chargeur(texte)
    except yaml.reader.ReaderError as exc:
        raise ErreurDonnees(Probleme(f"caractère interdit en YAML (code {exc.character:#x}) à la position {exc.position}",
                                     fichier)) from None
    try:
        racine = chargeur.get_single_node()
        if racine is not None:
            doc.donnees = _construire(racine, "", doc, chargeur, problemes)
    except yaml.MarkedYAMLError as exc:
        marque = exc.problem_mark or exc.context_mark
        ligne = marque.line + 1 if marque else None
        raison = (exc.problem or exc.context or "syntaxe invalide").strip()
        problemes.append(Probleme(f"YAML invalide ({_traduire(raison)})", fichier, ligne))
    except yaml.YAMLError as exc:  # pragma: no cover - erreurs sans position
        problemes.append(Probleme(f"YAML invalide ({exc})", fichier))
    except RecursionError:
        problemes.append(Probleme("YAML invalide (imbrication trop profonde)", fichier))
    finally:
        chargeur.dispose()
    if problemes:
        raise ErreurDonnees(problemes)
    return doc


def lire(chemin: Path | str) -> Document:
    """Lit un fichier YAML (taille limitée, UTF-8 exigé)."""
    chemin = Path(chemin)
    try:
        taille = chemin.stat().st_size
    except OSError:
        raise ErreurDonnees(Probleme("fichier introuvable", chemin)) from None
    if taille > TAILLE_MAX:
        raise ErreurDonnees(Probleme(f"fichier trop volumineux ({taille} octets, maximum {TAILLE_MAX})", chemin))
    try:
        texte = chemin.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ErreurDonnees(Probleme(f"le fichier n'est pas encodé en UTF-8 (octet {exc.start})", chemin)) from None
    except OSError as exc:
        raise ErreurDonnees(Probleme(f"lecture impossible ({exc.strerror})", chemin)) from None
    return lire_texte(texte, chemin)


_TRADUCTIONS = {
    "could not find expected ':'": "« : » attendu",
    "mapping values are not allowed here": "valeur inattendue à cet endroit (un « : » de trop ?)",
    "found character '\\t' that cannot start any token": "tabulation interdite, indenter avec des espaces",
    "expected <block end>, but found '-'": "élément de liste mal indenté",
    "found undefined alias": "alias non défini",
    "found unexpected end of stream": "fin de fichier inattendue",
    "did not find expected key": "clé attendue (indentation incorrecte ?)",
    "did not find expected '-' indicator": "tiret de liste attendu (indentation incorrecte ?)",
    "found unexpected ':'": "« : » inattendu",
}


def _traduire(raison: str) -> str:
    for anglais, francais in _TRADUCTIONS.items():
        if raison.startswith(anglais):
            return francais
    if "could not determine a constructor for the tag" in raison:
        return "balise YAML non autorisée"
    return raison


def en_date(valeur: Any) -> dt.date | None:
    """Convertit une date YAML ou une chaîne JJ/MM/AAAA ou AAAA-MM-JJ."""
    if valeur is None or isinstance(valeur, dt.date) and not isinstance(valeur, dt.datetime):
        return valeur
    if isinstance(valeur, dt.datetime):
        return valeur.date()
    texte = str(valeur).strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(texte, fmt).date()
        except ValueError:
            continue
    raise ValueError(texte)
