"""Nomenclature CPV 2008 (règlement (CE) n° 213/2008) : valider un code par la liste officielle, chercher par mot.

La liste (cpv-2008.csv, 9 454 codes avec leur libellé français, source dans CPV-SOURCES.md) fait foi : le
chiffre de contrôle ne se recalcule pas pour 5 % des codes officiels, on le lit donc dans la liste.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from .saisie import sans_accents

FICHIER = Path(__file__).with_name("cpv-2008.csv")
_FORME = re.compile(r"^(\d{8})(?:-(\d))?$")


@dataclass(frozen=True)
class Code:
    code: str  # « 45442100-8 »
    libelle: str

    @property
    def racine(self) -> str:
        return self.code[:8]

    def __str__(self) -> str:
        return f"{self.code} ({self.libelle})"


@lru_cache(maxsize=1)
def nomenclature() -> dict[str, Code]:
    """Les 8 premiers chiffres → le code officiel (avec son chiffre de contrôle) et son libellé."""
    with open(FICHIER, encoding="utf-8", newline="") as f:
        return {ligne["code"][:8]: Code(ligne["code"], ligne["libelle_fr"]) for ligne in csv.DictReader(f)}


@lru_cache(maxsize=1)
def _texte() -> str:
    with open(FICHIER, encoding="utf-8", newline="") as f:
        return "\n" + f.read()


@lru_cache(maxsize=256)
def officiel(huit_chiffres: str) -> Code | None:
    """Le code officiel de ces 8 chiffres, lu dans sa seule ligne de la liste : valider les codes d'une consultation
    ne demande pas de construire toute la nomenclature (9 454 codes, le plus long de la première génération)."""
    debut = _texte().find(f"\n{huit_chiffres}-")
    if debut < 0 or not huit_chiffres.isdigit():
        return None
    fin = _texte().find("\n", debut + 1)
    code, libelle = next(csv.reader([_texte()[debut + 1:fin if fin >= 0 else None]]))
    return Code(code, libelle)


@lru_cache(maxsize=1)
def _libelles_normalises() -> list[tuple[Code, str]]:
    return [(c, sans_accents(c.libelle)) for c in nomenclature().values()]


def trouver(code: str) -> Code | None:
    """Le code officiel désigné par `code` (8 chiffres, avec ou sans chiffre de contrôle), s'il existe."""
    forme = _FORME.match(str(code).strip())
    return officiel(forme.group(1)) if forme else None


def proches(huit_chiffres: str, nombre: int = 3) -> list[Code]:
    """Les codes officiels les plus proches : le plus long début commun, puis l'écart numérique."""
    def distance(c: Code) -> tuple[int, int]:
        commun = next((i for i, (a, b) in enumerate(zip(c.racine, huit_chiffres)) if a != b), 8)
        return (-commun, abs(int(c.racine) - int(huit_chiffres)))

    return sorted(nomenclature().values(), key=distance)[:nombre]


def probleme(code: str) -> str | None:
    """Ce qui ne va pas dans un code CPV, en français avec le code à proposer ; None s'il est juste."""
    texte = str(code).strip()
    forme = _FORME.match(texte)
    if not forme and codes_du_mot(texte):
        return codes_du_mot(texte)
    if not forme:
        return (f"« {texte} » n'a pas la forme d'un code CPV : 8 chiffres, un tiret et le chiffre de contrôle, "
                "par exemple 45442100-8")
    huit, controle = forme.groups()
    code_officiel = officiel(huit)
    if code_officiel is None:
        suggestions = " ; ".join(str(c) for c in proches(huit))
        return f"code CPV « {texte} » absent de la nomenclature CPV 2008 ; codes les plus proches : {suggestions}"
    if controle is not None and controle != code_officiel.code[-1]:
        return (f"chiffre de contrôle faux dans « {texte} » : le code CPV de « {code_officiel.libelle} » "
                f"est {code_officiel.code}")
    return None


def codes_du_mot(texte: str) -> str | None:
    """Un mot tapé à la place d'un code (« peinture ») : le message qui propose les codes qui le portent ;
    None si le texte n'a pas de lettre ou si aucun libellé ne le contient."""
    if not re.search(r"[^\W\d_]", texte):
        return None
    trouves = chercher(texte, 6)
    if not trouves:
        return None
    return (f"« {texte[:80]} » n'est pas un code CPV ; codes dont le libellé contient ces mots : "
            + " ; ".join(str(c) for c in trouves))


def chercher(requete: str, limite: int = 20, regle: Mapping[str, str] | None = None,
             nature: str | None = None) -> list[Code]:
    """Codes dont le libellé contient tous les mots de la requête (sans accents ni casse), ou dont le code
    commence par les chiffres donnés ; les libellés les plus courts (les plus généraux) d'abord. Avec une
    `nature` (« travaux ») et la `regle` qui la lit dans le code (`nature_proposee`), les codes de cette nature
    d'abord : « peinture » pour des travaux donne « Travaux de peinture » avant « Peintures »."""
    requete = requete.strip()
    if not requete:
        return []
    if re.fullmatch(r"\d[\d-]*", requete):
        chiffres = requete.replace("-", "")
        return [c for c in nomenclature().values() if c.code.replace("-", "").startswith(chiffres)][:limite]
    mots = sans_accents(requete).split()
    trouves = [(c, libelle) for c, libelle in _libelles_normalises()
               if all(re.search(rf"\b{re.escape(m)}", libelle) for m in mots)]
    autre_nature = (lambda c: nature_proposee(c.code, regle) != nature) if regle and nature else (lambda c: False)
    trouves.sort(key=lambda p: (autre_nature(p[0]),
                                not p[1].startswith(mots[0]) and not re.search(rf"\b{re.escape(mots[0])}\b", p[1]),
                                len(p[1]), p[0].code))
    return [c for c, _ in trouves[:limite]]


def nature_proposee(code: str, regle: Mapping[str, str] | None) -> str | None:
    """Nature d'achat que désigne d'ordinaire un code CPV, selon la règle du questionnaire (question `nature`,
    clé `d_apres_cpv` : division du code, deux premiers chiffres, ou plage « 03-44 » → nature) ; None sinon."""
    forme = _FORME.match(str(code).strip())
    if not forme or not regle:
        return None
    division = int(forme.group(1)[:2])
    for plage, nature in regle.items():
        debut, _, fin = str(plage).partition("-")
        if debut.isdigit() and int(debut) <= division <= int(fin or debut):
            return str(nature)
    return None
