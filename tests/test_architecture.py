"""Les couches de generateur/ (ARCHITECTURE.md), vérifiées par lecture du code (ast), sans outil externe.

Règles : chaque module est rangé dans une couche ; aucune couche n'importe une couche au-dessus d'elle ;
aucun cycle d'import entre modules (imports dans les fonctions compris) ; la racine de generateur/ ne garde
que __init__.py et erreurs.py ; chaque sous-paquet dit son rôle en une ligne.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from conftest import RACINE

PAQUET = RACINE / "generateur"
# De bas en haut : une couche ne connaît que celles qui la précèdent.
COUCHES = ("donnees", "droit", "pieces", "rendu", "lot", "base", "interfaces")
RACINE_PERMISE = {"__init__", "erreurs"}  # ce qui sert partout


def _module(fichier: Path, paquet: Path) -> str:
    parties = fichier.relative_to(paquet.parent).with_suffix("").parts
    return ".".join(parties[:-1] if parties[-1] == "__init__" else parties)


def _imports(fichier: Path, paquet: Path, modules: set[str]) -> list[tuple[int, str]]:
    """(ligne, module importé) pour chaque import de generateur dans le fichier, même dans une fonction."""
    nom = _module(fichier, paquet)
    courant = nom if fichier.name == "__init__.py" else nom.rsplit(".", 1)[0]
    trouves = []
    for noeud in ast.walk(ast.parse(fichier.read_text(encoding="utf-8"))):
        if isinstance(noeud, ast.Import):
            trouves.extend((noeud.lineno, a.name) for a in noeud.names if a.name.split(".")[0] == paquet.name)
        elif isinstance(noeud, ast.ImportFrom):
            if noeud.level:
                base = courant.split(".")
                base = base[:len(base) - (noeud.level - 1)]
                cible = ".".join(base + ([noeud.module] if noeud.module else []))
            else:
                cible = noeud.module or ""
            if cible.split(".")[0] != paquet.name:
                continue
            for a in noeud.names:  # « from paquet import module » importe le module lui-même
                trouves.append((noeud.lineno, f"{cible}.{a.name}" if f"{cible}.{a.name}" in modules else cible))
    return trouves


def _couche(module: str, paquet: str) -> int:
    """Rang de la couche d'un module ; -1 pour la racine (erreurs, __init__), qui sert à toutes."""
    parties = module.split(".")
    if len(parties) > 1 and parties[1] in COUCHES:
        return COUCHES.index(parties[1])
    return -1


def defauts(paquet: Path) -> list[str]:
    """Tout ce qui enfreint les règles des couches dans `paquet`, en français, avec fichier et ligne."""
    fichiers = sorted(paquet.rglob("*.py"))
    modules = {_module(f, paquet) for f in fichiers}
    problemes = []
    graphe: dict[str, set[str]] = {}
    for f in fichiers:
        rel = f.relative_to(paquet.parent)
        nom = _module(f, paquet)
        if f.parent == paquet and f.stem not in RACINE_PERMISE:
            problemes.append(f"{rel} : module posé à la racine de {paquet.name}/ ; le ranger dans une couche "
                             f"({', '.join(COUCHES)})")
        elif f.parent != paquet and f.relative_to(paquet).parts[0] not in COUCHES:
            problemes.append(f"{rel} : sous-paquet {f.relative_to(paquet).parts[0]}/ hors des couches "
                             f"({', '.join(COUCHES)})")
        rang = _couche(nom, paquet.name)
        graphe[nom] = set()
        for ligne, cible in _imports(f, paquet, modules):
            if cible == paquet.name or cible == nom:
                continue
            graphe[nom].add(cible)
            rang_cible = _couche(cible, paquet.name)
            if rang_cible > rang:
                ici = COUCHES[rang] if rang >= 0 else "la racine"
                problemes.append(f"{rel}:{ligne} : {nom} ({ici}) importe {cible} ({COUCHES[rang_cible]}), "
                                 "une couche au-dessus")
    problemes.extend(f"cycle d'import : {' → '.join(c)}" for c in _cycles(graphe))
    for couche in COUCHES:
        init = paquet / couche / "__init__.py"
        if not init.is_file():
            problemes.append(f"{paquet.name}/{couche}/ : couche absente")
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        if not doc.strip() or "\n" in doc.strip():
            problemes.append(f"{init.relative_to(paquet.parent)} : une docstring d'une ligne dit le rôle de la couche")
    return problemes


def _cycles(graphe: dict[str, set[str]]) -> list[list[str]]:
    """Un cycle par composante fortement connexe de plus d'un module (Tarjan, itératif)."""
    index: dict[str, int] = {}
    bas: dict[str, int] = {}
    pile: list[str] = []
    sur_pile: set[str] = set()
    composantes = []
    compteur = 0
    for depart in sorted(graphe):
        if depart in index:
            continue
        travail = [(depart, iter(sorted(graphe.get(depart, ()))))]
        index[depart] = bas[depart] = compteur
        compteur += 1
        pile.append(depart)
        sur_pile.add(depart)
        while travail:
            noeud, suivants = travail[-1]
            for s in suivants:
                if s not in graphe:
                    continue
                if s not in index:
                    index[s] = bas[s] = compteur
                    compteur += 1
                    pile.append(s)
                    sur_pile.add(s)
                    travail.append((s, iter(sorted(graphe[s]))))
                    break
                if s in sur_pile:
                    bas[noeud] = min(bas[noeud], index[s])
            else:
                travail.pop()
                if travail:
                    bas[travail[-1][0]] = min(bas[travail[-1][0]], bas[noeud])
                if bas[noeud] == index[noeud]:
                    composante = []
                    while True:
                        m = pile.pop()
                        sur_pile.discard(m)
                        composante.append(m)
                        if m == noeud:
                            break
                    if len(composante) > 1:
                        composantes.append(sorted(composante) + [sorted(composante)[0]])
    return composantes


def test_les_couches_sont_respectees():
    assert defauts(PAQUET) == []


def test_chaque_couche_existe_et_contient_des_modules():
    for couche in COUCHES:
        assert [f for f in (PAQUET / couche).glob("*.py") if f.name != "__init__.py"], couche


@pytest.fixture
def copie(tmp_path):
    cible = tmp_path / "generateur"
    shutil.copytree(PAQUET, cible, ignore=shutil.ignore_patterns("__pycache__", "templates", "static"))
    return cible


def _ajouter(fichier: Path, ligne: str) -> None:
    fichier.write_text(fichier.read_text(encoding="utf-8") + f"\n{ligne}\n", encoding="utf-8")


def test_un_import_qui_monte_d_une_couche_est_refuse(copie):
    _ajouter(copie / "droit" / "regles.py", "from ..rendu import documents")
    assert any("generateur.droit.regles (droit) importe generateur.rendu.documents (rendu)" in d
               for d in defauts(copie)), defauts(copie)


def test_un_import_de_l_interface_dans_une_fonction_de_la_bibliotheque_est_refuse(copie):
    _ajouter(copie / "droit" / "suggestions.py", "def f():\n    from ..interfaces.assistant import Assistant\n")
    assert any("generateur.droit.suggestions (droit) importe generateur.interfaces.assistant (interfaces)" in d
               for d in defauts(copie))


def test_un_cycle_d_import_est_refuse(copie):
    _ajouter(copie / "donnees" / "formats.py", "from . import saisie")
    assert "cycle d'import : generateur.donnees.formats → generateur.donnees.saisie → generateur.donnees.formats" \
        in defauts(copie)


def test_un_module_pose_a_la_racine_est_refuse(copie):
    (copie / "utilitaires.py").write_text('"""Divers."""\n', encoding="utf-8")
    assert any(d.startswith("generateur/utilitaires.py : module posé à la racine") for d in defauts(copie))


def test_une_couche_sans_docstring_est_refusee(copie):
    (copie / "lot" / "__init__.py").write_text("", encoding="utf-8")
    assert any("lot/__init__.py : une docstring d'une ligne" in d for d in defauts(copie))
