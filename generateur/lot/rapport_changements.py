"""Rapport de régénération : ce qui change d'une version à l'autre d'une consultation, et pourquoi.

Deux manifestes se comparent : clauses apparues, disparues ou modifiées (ancienne et nouvelle version,
règle, réponse lue, date d'effet ou texte de clause en cause), paramètres, valeurs calculées et
réponses qui bougent. La synthèse du lot s'écrit en Word (modèle commun), en CSV et en JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..donnees import cache
from ..donnees.acheteurs import Acheteur
from ..pieces.blocs import Bloc, Paragraphe, Segment, Titre
from ..donnees.fichiers import ecrire_atomique, json_lisible
from ..rendu.documents import assemblage, corps_assemble, produire, variables_acheteur
from ..donnees.formats import date_heure, date_longue
from ..donnees.fichiers import nom_sur
from .textes import Articles, Ligne, TexteClause, cle_decoupage, decoupage_assemble
from ..pieces.tracabilite import afficher, tableau

# Statuts d'une consultation après un passage du lot
MODIFIEE, NOUVELLE, A_JOUR, NON_CONCERNEE, ECHEC = "modifiée", "nouvelle", "à jour", "non concernée", "échec"
SUFFIXE_MANIFESTE = "-manifeste.json"
# Consultations détaillées dans la synthèse Word (un lot national en compte des dizaines de milliers) ; le CSV
# et le JSON les donnent toutes. La mémoire du lot ne croît ainsi pas avec sa taille.
DETAIL_MAX = 200


@dataclass
class ChangementClause:
    """Une clause apparue, disparue ou modifiée, avec sa cause et ses textes (pour le document des modifications)."""

    id: str
    document: str
    nature: str  # apparue | disparue | modifiée
    titre: str
    ancienne_version: int | None
    nouvelle_version: int | None
    ancien_article: str | None
    nouvel_article: str | None
    cause: str
    anciens: list[Ligne] = field(default_factory=list, repr=False)
    nouveaux: list[Ligne] = field(default_factory=list, repr=False)


@dataclass
class ChangementValeur:
    """Un paramètre juridique, une valeur calculée ou une réponse qui a changé."""

    genre: str  # paramètre | valeur calculée | réponse
    nom: str
    lot: int | None
    ancienne: Any
    nouvelle: Any
    reference: str = ""

    @property
    def libelle(self) -> str:
        return self.nom + (f" (lot {self.lot})" if self.lot is not None else "")


@dataclass
class RapportConsultation:
    """Résultat d'une consultation dans un lot de régénération."""

    dossier: str
    statut: str
    reference: str = ""
    version_precedente: str | None = None
    nouvelle_version: str | None = None
    clauses: list[ChangementClause] = field(default_factory=list)
    valeurs: list[ChangementValeur] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)  # ce qui a désigné la consultation comme concernée
    erreur: str = ""
    redline: str | None = None
    acheteur: str = ""
    fiche: dict[str, Any] | None = None  # entrée de l'index du dossier (lot/index.py), hors du rapport écrit

    @property
    def pieces_sans_changement_de_clause(self) -> list[str]:
        """Pièces modifiées alors qu'aucune clause ni valeur ne change (modèle Word, version de dce…)."""
        return self.documents if self.statut == MODIFIEE and not (self.clauses or self.valeurs) else []


# Cause donnée quand ni le catalogue, ni le modèle, ni les réponses n'expliquent qu'une pièce change.
MISE_EN_FORME = "mise en forme produite par dce modifiée (texte des clauses et valeurs inchangés)"


def lire_manifeste(dossier: Path) -> Mapping[str, Any] | None:
    """Manifeste d'un dossier de génération (le seul fichier *-manifeste.json), ou None (voir `Manifeste`)."""
    trouves = sorted(dossier.glob(f"*{SUFFIXE_MANIFESTE}"))
    if not trouves:
        return None
    return _manifeste(trouves[0].read_bytes())


def manifeste_produit(contenus: dict[str, bytes]) -> Mapping[str, Any] | None:
    """Manifeste des fichiers d'un DCE produit en mémoire (`generation.produire_dce`), sans le relire sur le disque
    une fois écrit : ce que `lire_manifeste` lirait dans leur dossier."""
    noms = sorted(n for n in contenus if n.endswith(SUFFIXE_MANIFESTE) and not n.startswith("."))
    return _manifeste(contenus[noms[0]]) if noms else None


class Manifeste(Mapping[str, Any]):
    """Un manifeste lu, tel que l'écrit la génération (`fichiers.json_lisible` : un objet dont chaque clé de premier
    niveau commence une ligne, indentée de deux espaces) : chaque section (« calculs », « clauses »…) n'est décodée
    qu'à sa première lecture, et deux manifestes dont une section a les mêmes octets ont la même section sans qu'elle
    soit décodée (`meme_section`). Une régénération après la modification d'une clause ne décode plus les calculs
    ni les paramètres des deux versions (plus de la moitié des octets d'un manifeste), qui n'ont pas changé."""

    __slots__ = ("_bruts", "_lues")

    def __init__(self, bruts: dict[str, bytes]) -> None:
        self._bruts = bruts
        self._lues: dict[str, Any] = {}

    def __getitem__(self, cle: str) -> Any:
        try:
            return self._lues[cle]
        except KeyError:
            pass
        valeur = self._lues[cle] = _decoder(self._bruts[cle])
        return valeur

    def __iter__(self) -> Iterator[str]:
        return iter(self._bruts)

    def __len__(self) -> int:
        return len(self._bruts)

    def brut(self, cle: str) -> bytes | None:
        """Les octets de la section `cle`, tels qu'écrits, tant qu'elle n'a pas été décodée ; None sinon (absente,
        ou décodée : sa valeur a pu être modifiée depuis, les octets ne la disent plus sûrement)."""
        return None if cle in self._lues else self._bruts.get(cle)

    def decodee(self, cle: str, valeur: Any) -> None:
        """La valeur de la section `cle`, décodée ailleurs de ses octets (`clauses_des_deux`)."""
        self._lues[cle] = valeur


def meme_section(a: Mapping[str, Any], b: Mapping[str, Any], cle: str) -> bool:
    """Vrai si la section `cle`, décodée dans aucun des deux manifestes, a les mêmes octets dans les deux (donc la
    même valeur) ; faux si l'on ne sait pas le dire sans la décoder."""
    if not (isinstance(a, Manifeste) and isinstance(b, Manifeste)):
        return False
    brut = a.brut(cle)
    return brut is not None and brut == b.brut(cle)


_LIGNE_DE_CLE = re.compile(rb'\n  "')  # cherchée par le moteur d'expressions : plus vite que bytes.find ici
_CLE = re.compile(rb'\n  "([A-Za-z0-9_]+)": ')


def _manifeste(octets: bytes) -> Mapping[str, Any]:
    """Un manifeste écrit par la génération, découpé en sections (`Manifeste`) ; tout autre JSON (écrit à la main,
    sur une ligne, par une version ancienne…), décodé d'un coup. Le découpage suit l'écriture de `json_lisible` : une
    clé de premier niveau est la seule chose qui commence une ligne par deux espaces et un guillemet (une chaîne JSON
    ne contient pas de saut de ligne, ce qui est plus profond est plus indenté)."""
    if not octets.startswith(b'{\n  "') or not (octets.endswith(b"\n}\n") or octets.endswith(b"\n}")):
        return _decoder(octets)
    fin = len(octets) - (3 if octets.endswith(b"\n}\n") else 2)
    cles = [_CLE.match(octets, m.start(), fin) for m in _LIGNE_DE_CLE.finditer(octets, 1, fin)]
    if not cles or cles[0] is None or cles[0].start() != 1 or any(m is None for m in cles):
        return _decoder(octets)  # une clé que le découpage ne lirait pas sûrement : décodé d'un coup
    bruts: dict[str, bytes] = {}
    for i, m in enumerate(cles):
        assert m is not None
        cle = m.group(1).decode("ascii")
        if cle in bruts:
            return _decoder(octets)  # clé répétée : JSON garde la dernière, laissé au décodeur
        debut = m.end()
        if i + 1 < len(cles):
            bout = cles[i + 1].start()
            if octets[bout - 1:bout] != b",":
                return _decoder(octets)
            bruts[cle] = octets[debut:bout - 1]
        else:
            bruts[cle] = octets[debut:fin]
    return Manifeste(bruts)


# Entrées d'un tableau d'objets écrit en section d'un manifeste par `json_lisible` :
# « [\n    {…\n    },\n    {…\n    }\n  ] » (un objet par entrée, ses accolades seules sur leur ligne à quatre
# espaces, ce qu'il contient plus indenté).
_DEBUT_ENTREES, _ENTRE_ENTREES, _FIN_ENTREES = b"[\n    {", b"\n    },\n    {", b"\n    }\n  ]"


def _entrees(brut: bytes) -> list[bytes] | None:
    """Les octets de chaque objet du tableau `brut` (section d'un manifeste, voir ci-dessus), dans l'ordre ; None si
    la section n'a pas cette forme. Une chaîne JSON ne contient pas de saut de ligne : « }, { » à quatre espaces ne
    sépare que deux entrées."""
    if not (brut.startswith(_DEBUT_ENTREES) and brut.endswith(_FIN_ENTREES)) \
            or len(brut) < len(_DEBUT_ENTREES) + len(_FIN_ENTREES):
        return None
    return [b"{" + m + b"\n    }" for m in brut[len(_DEBUT_ENTREES):-len(_FIN_ENTREES)].split(_ENTRE_ENTREES)]


def clauses_des_deux(ancien: Mapping[str, Any], nouveau: Mapping[str, Any]) -> tuple[Any, Any]:
    """Les clauses enregistrées aux deux manifestes d'une consultation (section « clauses »). Une entrée du nouveau
    écrite, à l'octet, comme celle de même rang de l'ancien, en reprend la valeur décodée, sans être décodée
    (objet partagé par les deux manifestes, qu'on ne fait que lire) : après la modification d'une clause, seule son
    entrée l'est deux fois."""
    brut_a = ancien.brut("clauses") if isinstance(ancien, Manifeste) else None
    brut_n = nouveau.brut("clauses") if isinstance(nouveau, Manifeste) else None
    if brut_a is None or brut_n is None:
        return ancien["clauses"], nouveau["clauses"]
    anciennes = ancien["clauses"]
    entrees_a, entrees_n = _entrees(brut_a), _entrees(brut_n)
    if entrees_a is None or entrees_n is None or type(anciennes) is not list or len(anciennes) != len(entrees_a):
        return anciennes, nouveau["clauses"]
    try:
        nouvelles = [anciennes[i] if i < len(entrees_a) and e == entrees_a[i] else _decoder(e)
                     for i, e in enumerate(entrees_n)]
    except (ValueError, UnicodeDecodeError):  # une entrée qui ne se lit pas seule : la section décodée d'un coup
        return anciennes, nouveau["clauses"]
    nouveau.decodee("clauses", nouvelles)
    return anciennes, nouvelles


def _decoder(octets: bytes) -> dict[str, Any]:
    # sans ramasse-miettes pendant la lecture : les dizaines de milliers d'objets d'un manifeste, gardés jusqu'à la fin
    # de la consultation, déclencheraient sinon des dizaines de collectes, et des parcours complets du tas
    with cache.sans_ramasse_miettes():
        try:
            return orjson.loads(octets)  # plusieurs fois plus rapide que json (deux manifestes lus par consultation)
        except orjson.JSONDecodeError:  # ce que seul json accepte (NaN, entiers de plus de 64 bits…) ou dit en erreur
            return json.loads(octets.decode("utf-8"))


def fichiers_generes(dossier: Path) -> dict[str, bytes]:
    """Les fichiers d'un dossier de génération, manifeste exclu (nom → octets, dans l'ordre des noms), lus une fois
    pour leurs empreintes (`empreintes_documents`) et pour les pièces que `comparer` découpe."""
    return {p.name: p.read_bytes() for p in sorted(dossier.iterdir())
            if p.is_file() and not p.name.endswith(SUFFIXE_MANIFESTE)}


def empreintes_documents(dossier: Path, manifeste: Mapping[str, Any], fichiers: dict[str, bytes] | None = None,
                         produits: tuple[dict[str, bytes], Mapping[str, Any]] | None = None) -> dict[str, str]:
    """Pièce (« CCAP.docx », « tracabilite-SPASER.docx »…) → SHA-256, manifeste exclu (`fichiers` : ceux du dossier,
    déjà lus par `fichiers_generes`). `produits` : les fichiers d'un DCE produit en mémoire et son manifeste (voir
    `empreintes_produites`) ; un fichier du dossier identique à l'octet au fichier produit de même nom reprend son
    empreinte, sans être haché de nouveau (en régénération, la plupart des pièces ne changent pas)."""
    base = nom_sur(str(manifeste["reponses"]["reference"])) + "-"
    fichiers = fichiers_generes(dossier) if fichiers is None else fichiers
    contenus, connues = ({}, {}) if produits is None else (produits[0], _ecrites(produits[1]))
    return {nom.removeprefix(base): connues[nom] if nom in connues and contenus.get(nom) == octets
            else hashlib.sha256(octets).hexdigest() for nom, octets in fichiers.items()}


def _ecrites(manifeste: Mapping[str, Any]) -> dict[str, str]:
    """Empreintes des fichiers enregistrées au manifeste d'un DCE produit (nom → SHA-256 de ses octets)."""
    ecrits = manifeste.get("fichiers")
    return ecrits if isinstance(ecrits, dict) else {}


def empreintes_produites(contenus: dict[str, bytes], manifeste: Mapping[str, Any]) -> dict[str, str]:
    """`empreintes_documents` des fichiers d'un DCE produit en mémoire (et écrits tels quels dans leur dossier), sans
    les relire : l'empreinte de chaque fichier est celle que son manifeste vient d'en calculer, sur les mêmes octets."""
    base = nom_sur(str(manifeste["reponses"]["reference"])) + "-"
    ecrits = _ecrites(manifeste)
    return {nom.removeprefix(base): ecrits.get(nom) or hashlib.sha256(contenu).hexdigest()
            for nom, contenu in sorted(contenus.items()) if not nom.endswith(SUFFIXE_MANIFESTE)}


def _aplatir(valeur: Any, chemin: str = "") -> dict[str, Any]:
    if isinstance(valeur, dict):
        return {k: v for cle, sous in valeur.items()
                for k, v in _aplatir(sous, f"{chemin}.{cle}" if chemin else cle).items()}
    if isinstance(valeur, list) and valeur and all(isinstance(v, dict) for v in valeur):
        return {k: v for i, sous in enumerate(valeur, 1) for k, v in _aplatir(sous, f"{chemin}[{i}]").items()}
    return {chemin: valeur}


def comparer_valeurs(ancien: Mapping[str, Any], nouveau: Mapping[str, Any]) -> list[ChangementValeur]:
    """Paramètres lus, valeurs calculées et réponses qui diffèrent entre deux manifestes (une section aux mêmes
    octets dans les deux n'est ni décodée ni comparée : `meme_section`)."""
    changements = []
    if not meme_section(ancien, nouveau, "parametres"):
        avant = {p["nom"]: p for p in ancien.get("parametres", [])}
        for p in nouveau.get("parametres", []):
            if p["nom"] in avant and avant[p["nom"]]["valeur"] != p["valeur"]:
                changements.append(ChangementValeur(
                    "paramètre", p["nom"], None, avant[p["nom"]]["valeur"], p["valeur"],
                    f"{p.get('reference', '')} ; valeur en vigueur au {_date(nouveau['droit_applicable_au'])}"))
    if not meme_section(ancien, nouveau, "calculs"):
        avant = {(c["nom"], c["lot"]): c for c in ancien["calculs"]}
        for c in nouveau["calculs"]:
            a = avant.get((c["nom"], c["lot"]))
            if a is not None and a["valeur"] != c["valeur"]:
                changements.append(ChangementValeur("valeur calculée", c["nom"], c["lot"], a["valeur"], c["valeur"],
                                                    c.get("reference", "")))
    # réponses égales : aucune feuille ne diffère, inutile d'aplatir
    if meme_section(ancien, nouveau, "reponses") or ancien["reponses"] == nouveau["reponses"]:
        return changements
    a, n = _aplatir(ancien["reponses"]), _aplatir(nouveau["reponses"])
    for chemin in sorted(set(a) | set(n)):
        if a.get(chemin) != n.get(chemin):
            changements.append(ChangementValeur("réponse", chemin, None, a.get(chemin), n.get(chemin)))
    return changements


def _valeur(v: Any) -> str:
    return afficher(v) if not isinstance(v, (list, dict)) else json.dumps(v, ensure_ascii=False)


def _ecarts(avant: dict[str, Any], apres: dict[str, Any]) -> str:
    return ", ".join(f"{k} : {_valeur(avant.get(k))} → {_valeur(apres.get(k))}"
                     for k in sorted(set(avant) | set(apres)) if avant.get(k) != apres.get(k))


def _date(iso: str | None) -> str:
    return date_longue(dt.date.fromisoformat(iso)) if iso else ""


def _cause_selection(a: dict[str, Any] | None, n: dict[str, Any] | None, apparue: bool) -> str:
    """Pourquoi une clause entre dans la consultation ou en sort : vigueur, règle ou réponses lues."""
    present, absent = (n, a) if apparue else (a, n)
    assert present is not None
    if absent is None:
        vigueur = present.get("en_vigueur") or {}
        if apparue:
            return f"clause en vigueur depuis le {_date(vigueur.get('du'))}, absente de la génération précédente"
        if vigueur.get("au"):
            return f"clause en vigueur jusqu'au {_date(vigueur['au'])} seulement"
        return "clause retirée du catalogue"
    if a is not None and n is not None and a["regle"] != n["regle"]:
        return f"règle modifiée : « {a['regle']} » devient « {n['regle']} »"
    etat = "désormais remplie" if apparue else "plus remplie"
    ecarts = _ecarts(a["reponses_lues"], n["reponses_lues"]) if a is not None and n is not None else ""
    return f"règle « {present['regle']} » {etat}" + (f" ({ecarts})" if ecarts else "")


def _cause_modification(a: dict[str, Any], n: dict[str, Any], valeurs: list[ChangementValeur],
                        source: str, renumerotation: bool) -> str:
    parties = []
    if a["version"] != n["version"]:
        parties.append(f"version {a['version']} remplacée par la version {n['version']}, en vigueur depuis le "
                       f"{_date((n.get('en_vigueur') or {}).get('du'))}")
    elif a["sha256"] != n["sha256"]:
        parties.append(f"texte de la clause modifié dans le catalogue ({n['fichier']}), sans changement de version")
    else:
        # Texte inchangé : ce sont les valeurs reprises par la clause qui ont bougé, et les paramètres
        # juridiques dont elles découlent.
        citees = [v for v in valeurs if v.genre == "paramètre" or v.nom.split(".")[-1].split("[")[0] in source]
        citees = citees or valeurs
        if citees:
            parties.append("valeurs modifiées : " + " ; ".join(
                f"{v.genre} {v.libelle} : {_valeur(v.ancienne)} → {_valeur(v.nouvelle)}" for v in citees))
    if a["article"] != n["article"]:
        parties.append(f"article {a['article']} devenu {n['article']}")
    elif renumerotation and not parties:
        parties.append("renvois d'articles renumérotés")
    return " ; ".join(parties) or "texte rendu modifié"


def _piece(dossier: Path, fichiers: dict[str, bytes] | None, document: str) -> tuple[str, bytes] | None:
    """Le nom et les octets de la pièce `document` (« CCAP ») d'un dossier de génération, pris dans `fichiers` (ses
    fichiers, déjà en mémoire) s'ils sont donnés, sinon lus dans le dossier."""
    if fichiers is None:
        trouves = sorted(dossier.glob(f"*-{document}.docx"))
        return (trouves[0].name, trouves[0].read_bytes()) if trouves else None
    noms = sorted(n for n in fichiers if n.endswith(f"-{document}.docx") and not n.startswith("."))  # comme le glob
    return (noms[0], fichiers[noms[0]]) if noms else None


# Découpages des pièces gardés dans le cache (voir `_decouper_versions`) : un par version de pièce comparée, quelques
# kilo-octets chacun, dans la mémoire de la consultation quand elle est ouverte (la régénération l'ouvre pour la
# production et la comparaison : `cache.objet_de_consultation`), sinon un fichier chacun, dans un dossier où, au-delà
# de DECOUPAGES_MAX, les plus anciens s'en vont (la comparaison suivante de leur consultation redécoupe).
DECOUPAGES = "decoupages"
DECOUPAGES_MAX = 10_000


def _decouper_versions(ancienne: tuple[str, bytes] | None, nouvelle: tuple[str, bytes] | None,
                       ancien: Mapping[str, Any], nouveau: Mapping[str, Any]) -> tuple[Articles, Articles]:
    """L'ancienne et la nouvelle version d'une pièce (nom et octets, None : absente), découpées en articles.

    Une pièce est découpée sans analyse XML seulement telle que dce l'a écrite (empreinte de son manifeste) ; une pièce
    retouchée à la main est lue en entier. Le découpage de la nouvelle version est gardé dans le cache (sous
    l'empreinte de ses octets, hors des fichiers de la version) : à la régénération suivante, elle est l'ancienne
    version, reprise sans être découpée de nouveau, et la nouvelle reprend son découpage là où leurs octets sont
    identiques (`Articles`, `voisin`). Sans découpage gardé (première comparaison), la nouvelle version, qu'on vient
    d'assembler, est découpée d'après son assemblage (la longueur de chacun de ses éléments est connue : ses titres
    seuls sont cherchés) et l'ancienne reprend son découpage là où leurs octets sont identiques ; sinon, l'ancienne
    est découpée en entier. Son découpage est gardé aussi."""
    lues: list[tuple[bytes, bool, bytes | None, str] | None] = []
    for piece, manifeste in ((ancienne, ancien), (nouvelle, nouveau)):
        if piece is None:
            lues.append(None)
            continue
        nom, octets = piece
        ecrits = manifeste.get("fichiers")
        ecrit = ecrits.get(nom) if isinstance(ecrits, dict) else None
        empreinte = hashlib.sha256(octets).hexdigest()
        lues.append((octets, ecrit == empreinte, corps_assemble(octets), empreinte))
    vieille, neuve = lues
    apres: Articles | None = None
    if vieille is None:
        avant = Articles(None)
    elif not vieille[1]:
        avant = Articles(vieille[0], rapide=False, xml=vieille[2])
    else:
        construite: list[Articles] = []

        def decouper() -> Any:
            nonlocal apres
            assert vieille is not None
            apres = _nouvelle_assemblee(neuve)
            construite.append(Articles(vieille[0], xml=vieille[2], voisin=apres))
            return construite[0].decoupage()

        decoupage = cache.objet_de_consultation(DECOUPAGES, cle_decoupage(vieille[3]), decouper, DECOUPAGES_MAX)
        avant = construite[0] if construite else Articles(vieille[0], xml=vieille[2], decoupage=decoupage)
    if neuve is None:
        return avant, Articles(None)
    if apres is None:
        apres = Articles(neuve[0], rapide=neuve[1], voisin=avant, xml=neuve[2])
    if neuve[1]:
        cache.objet_de_consultation(DECOUPAGES, cle_decoupage(neuve[3]), apres.decoupage, DECOUPAGES_MAX)
    return avant, apres


def _nouvelle_assemblee(neuve: tuple[bytes, bool, bytes | None, str] | None) -> Articles | None:
    """La nouvelle version d'une pièce, découpée d'après son assemblage (`documents.assemblage`, `decoupage_assemble`)
    si `produire` vient de l'assembler et qu'elle est telle que dce l'a écrite ; None sinon."""
    if neuve is None or not neuve[1] or neuve[2] is None:
        return None
    plan = assemblage(neuve[0])
    decoupage = decoupage_assemble(neuve[2], *plan) if plan is not None else None
    if decoupage is None:
        return None
    return Articles(neuve[0], xml=neuve[2], decoupage=decoupage, titres_a_lire=True)


def comparer(ancien: Mapping[str, Any], ancien_dossier: Path, nouveau: Mapping[str, Any], nouveau_dossier: Path,
             racine: Path, empreintes: tuple[dict[str, str], dict[str, str]] | None = None,
             fichiers: tuple[dict[str, bytes], dict[str, bytes]] | None = None,
             ) -> tuple[list[ChangementClause], list[ChangementValeur], list[str]]:
    """Clauses, valeurs et pièces qui diffèrent entre deux générations d'une même consultation.

    `empreintes` : celles des pièces des deux dossiers (`empreintes_documents`), si elles sont déjà calculées.
    `fichiers` : les fichiers des deux dossiers, s'ils sont déjà en mémoire (`fichiers_generes` de l'ancien, DCE
    produit du nouveau) : les pièces à découper y sont prises au lieu d'être relues."""
    valeurs = comparer_valeurs(ancien, nouveau)
    e_avant, e_apres = empreintes or (empreintes_documents(ancien_dossier, ancien),
                                      empreintes_documents(nouveau_dossier, nouveau))
    documents = sorted(p for p in set(e_avant) | set(e_apres) if e_avant.get(p) != e_apres.get(p))
    lus: dict[tuple[bool, str], Articles] = {}

    def articles(recent: bool, document: str) -> Articles:
        # les deux versions de la pièce ensemble (sans appel récursif, qui ferait de cette fonction un cycle de
        # références gardant les deux manifestes et les pièces lues jusqu'à une collecte)
        if (recent, document) not in lus:
            pieces = [_piece(dossier, None if fichiers is None else fichiers[i], document)
                      for i, dossier in enumerate((ancien_dossier, nouveau_dossier))]
            lus[(False, document)], lus[(True, document)] = _decouper_versions(*pieces, ancien, nouveau)
        return lus[(recent, document)]

    def texte(recent: bool, document: str, numero: str) -> TexteClause:
        return articles(recent, document).texte(numero)

    clauses_avant, clauses_apres = clauses_des_deux(ancien, nouveau)
    avant = {c["id"]: c for c in clauses_avant}
    apres = {c["id"]: c for c in clauses_apres}
    renumerotation = any(avant[i]["article"] != apres[i]["article"] for i in set(avant) & set(apres)
                         if avant[i]["retenue"] and apres[i]["retenue"])
    clauses = []
    for ident in sorted(set(avant) | set(apres)):
        a, n = avant.get(ident), apres.get(ident)
        a_ret, n_ret = bool(a and a["retenue"]), bool(n and n["retenue"])
        if not (a_ret or n_ret):
            continue
        ref = n if n_ret else a
        assert ref is not None
        document = ref["document"]
        meme_version = a_ret and n_ret and a is not None and n is not None and a["version"] == n["version"]
        if meme_version and f"{document}.docx" not in documents:
            continue  # pièce identique à l'octet : la clause n'a pas changé, inutile de relire les documents
        if meme_version:
            assert a is not None and n is not None
            empreinte = articles(False, document).empreinte(a["article"])
            if empreinte is not None and empreinte == articles(True, document).empreinte(n["article"]):
                continue  # article identique à l'octet dans les deux pièces : même texte, inutile de le lire
        vieux = texte(False, document, a["article"]) if a_ret and a else TexteClause("", [])
        neuf = texte(True, document, n["article"]) if n_ret and n else TexteClause("", [])
        if a_ret and n_ret:
            assert a is not None and n is not None
            if meme_version and vieux.paragraphes == neuf.paragraphes and vieux.titre == neuf.titre:
                continue
            fichier = racine / n["fichier"]
            source = fichier.read_text(encoding="utf-8") if fichier.is_file() else ""
            nature, cause = "modifiée", _cause_modification(a, n, valeurs, source, renumerotation)
        else:
            nature = "apparue" if n_ret else "disparue"
            cause = _cause_selection(a, n, apparue=n_ret)
        clauses.append(ChangementClause(
            ident, document, nature, neuf.titre or vieux.titre or ident,
            a["version"] if a_ret and a else None, n["version"] if n_ret and n else None,
            a["article"] if a_ret and a else None, n["article"] if n_ret and n else None,
            cause, vieux.paragraphes, neuf.paragraphes))
    return clauses, valeurs, documents


# -- synthèse du lot ---------------------------------------------------------------------------------

COLONNES = ["consultation", "reference", "statut", "version_precedente", "nouvelle_version", "changement",
            "element", "document", "article", "avant", "apres", "cause"]


def lignes_csv(rapports: list[RapportConsultation]) -> list[dict[str, str]]:
    """Une ligne par changement (clause, valeur, pièce), ou une seule ligne pour une consultation sans changement."""
    lignes = []
    for r in rapports:
        base = {"consultation": r.dossier, "reference": r.reference, "statut": r.statut,
                "version_precedente": r.version_precedente or "", "nouvelle_version": r.nouvelle_version or ""}
        detail = []
        for c in r.clauses:
            article = " → ".join(x for x in dict.fromkeys([c.ancien_article, c.nouvel_article]) if x)
            detail.append({"changement": f"clause {c.nature}", "element": c.id, "document": c.document,
                           "article": article, "avant": "" if c.ancienne_version is None else f"v{c.ancienne_version}",
                           "apres": "" if c.nouvelle_version is None else f"v{c.nouvelle_version}", "cause": c.cause})
        for v in r.valeurs:
            detail.append({"changement": v.genre, "element": v.libelle, "avant": _valeur(v.ancienne),
                           "apres": _valeur(v.nouvelle), "cause": v.reference})
        for piece in r.pieces_sans_changement_de_clause:
            detail.append({"changement": "pièce modifiée", "element": piece, "document": piece,
                           "cause": " ; ".join(r.causes)})
        if r.statut == ECHEC:
            detail.append({"changement": "échec", "cause": r.erreur})
        for d in detail or [{"changement": "aucun", "cause": " ; ".join(r.causes)}]:
            lignes.append({k: "" for k in COLONNES} | base | d)
    return lignes


def _csv(rapports: list[RapportConsultation]) -> bytes:
    tampon = io.StringIO()
    ecrivain = csv.DictWriter(tampon, COLONNES, delimiter=";", lineterminator="\r\n")
    ecrivain.writeheader()
    ecrivain.writerows(lignes_csv(rapports))
    return tampon.getvalue().encode("utf-8-sig")  # le BOM fait lire l'UTF-8 à Excel


def _compte(rapports: list[RapportConsultation], statut: str) -> str:
    return str(sum(r.statut == statut for r in rapports))


def blocs_synthese(rapports: list[RapportConsultation], dossier: Path, simulation: bool,
                   moment: dt.datetime) -> tuple[list[Bloc], list[Titre]]:
    """Synthèse du lot : chiffres, état de chaque consultation, détail des changements, échecs."""
    blocs: list[Bloc] = []
    titres: list[Titre] = []

    def titre(niveau: int, texte: str) -> None:
        t = Titre(niveau, texte, f"_Toc_synthese_{len(titres) + 1}")
        blocs.append(t)
        titres.append(t)

    titre(1, "Article 1 – Synthèse")
    if simulation:
        blocs.append(Paragraphe([Segment("Simulation : aucun document n'a été écrit ; ce rapport montre ce que la "
                                         "régénération changerait.", italique=True)]))
    blocs.append(tableau([
        ["Rubrique", "Valeur"],
        ["Dossier de consultations", str(dossier)],
        ["Régénération du", date_heure(moment)],
        ["Consultations examinées", str(len(rapports))],
        ["Modifiées (nouvelle version)", _compte(rapports, MODIFIEE)],
        ["Générées pour la première fois", _compte(rapports, NOUVELLE)],
        ["À jour (documents identiques)", _compte(rapports, A_JOUR)],
        ["Non concernées par les changements du catalogue", _compte(rapports, NON_CONCERNEE)],
        ["En échec", _compte(rapports, ECHEC)],
    ], [55, 45]))

    def limite(liste: list[RapportConsultation], quoi: str) -> list[RapportConsultation]:
        if len(liste) > DETAIL_MAX:
            blocs.append(Paragraphe([Segment(f"Les {DETAIL_MAX} premières {quoi} sur {len(liste)} figurent ici ; "
                                             "synthese.csv et changements.json les donnent toutes.", italique=True)]))
        return liste[:DETAIL_MAX]

    titre(1, "Article 2 – Consultations")
    listees = rapports
    if len(rapports) > DETAIL_MAX:
        listees = [r for r in rapports if r.statut in (MODIFIEE, NOUVELLE, ECHEC)]
        blocs.append(Paragraphe([Segment("Les consultations à jour ou non concernées ne sont comptées qu'à "
                                         "l'article 1.", italique=True)]))
    blocs.append(tableau(
        [["Consultation", "Référence", "Statut", "Version", "Clauses modifiées", "Valeurs modifiées"]]
        + [[r.dossier, r.reference, r.statut,
            " → ".join(v for v in (r.version_precedente, r.nouvelle_version) if v) or "—",
            str(len(r.clauses)), str(len(r.valeurs))] for r in limite(listees, "consultations")],
        [24, 20, 14, 14, 14, 14]))

    changees = [r for r in rapports if r.clauses or r.valeurs or r.pieces_sans_changement_de_clause]
    titre(1, "Article 3 – Détail des changements")
    if not changees:
        blocs.append(Paragraphe([Segment("Aucune clause, aucune valeur ni aucune pièce ne change.")]))
    for r in limite(changees, "consultations modifiées"):
        titre(2, f"{r.dossier} ({r.reference}), version {r.version_precedente or '—'} → {r.nouvelle_version or '—'}")
        lignes = [["Changement", "Élément", "Avant", "Après", "Cause"]]
        for c in r.clauses:
            element = f"{c.document} {c.nouvel_article or c.ancien_article} – {c.titre} ({c.id})"
            lignes.append([f"clause {c.nature}", element,
                           "—" if c.ancienne_version is None else f"version {c.ancienne_version}",
                           "—" if c.nouvelle_version is None else f"version {c.nouvelle_version}", c.cause])
        for v in r.valeurs:
            lignes.append([v.genre, v.libelle, _valeur(v.ancienne), _valeur(v.nouvelle), v.reference])
        for piece in r.pieces_sans_changement_de_clause:
            lignes.append(["pièce modifiée", piece, r.version_precedente or "—", r.nouvelle_version or "—",
                           " ; ".join(r.causes)])
        blocs.append(tableau(lignes, [14, 28, 14, 14, 30]))
        if r.redline:
            blocs.append(Paragraphe([Segment(f"Modifications suivies des clauses : modifications/{Path(r.redline).name}",
                                             italique=True)]))

    echecs = [r for r in rapports if r.statut == ECHEC]
    titre(1, "Article 4 – Échecs")
    if echecs:
        lignes = [[r.dossier, r.erreur] for r in limite(echecs, "consultations en échec")]
        blocs.append(tableau([["Consultation", "Cause"]] + lignes, [30, 70]))
    else:
        blocs.append(Paragraphe([Segment("Aucune consultation en échec.")]))
    return blocs, titres


def _sans_textes(r: RapportConsultation) -> dict[str, Any]:
    """Rapport d'une consultation pour changements.json (les textes des clauses sont dans le document des modifications)."""
    donnees = asdict(r)
    del donnees["fiche"]
    for c in donnees["clauses"]:
        del c["anciens"], c["nouveaux"]
    return donnees


def ecrire_synthese(rapports: list[RapportConsultation], sortie: Path, dossier: Path, modele: Path,
                    simulation: bool, moment: dt.datetime, acheteur: Acheteur | None = None) -> dict[str, Path]:
    """Écrit synthese.docx, synthese.csv et changements.json dans `sortie` ; renvoie leurs chemins.

    `acheteur` : l'acheteur de toutes les consultations du lot, s'il n'y en a qu'un (couverture du rapport).
    """
    titre = "Rapport de simulation" if simulation else "Rapport de régénération"
    profil = acheteur.profil if acheteur else {"nom": "Acheteurs des consultations régénérées", "nom_court": "dce",
                                               "representant": "leurs représentants"}
    variables = {
        **variables_acheteur(profil, acheteur.logo() if acheteur else None),
        "titre_document": titre, "sigle_document": "Rapport", "objet": f"Consultations du dossier {dossier.name}",
        "objet_court": dossier.name[:50], "reference": moment.strftime("%d/%m/%Y %H:%M"),
        "procedure": "Simulation de régénération (aucun document écrit)" if simulation else "Régénération en lot",
        "date_limite": "sans objet", "date_lancement": date_longue(moment.date()),
    }
    blocs, titres = blocs_synthese(rapports, dossier, simulation, moment)
    contenus = {
        "synthese.docx": produire(modele, variables, blocs, titres),
        "synthese.csv": _csv(rapports),
        "changements.json": json_lisible([_sans_textes(r) for r in rapports], defaut=str),
    }
    chemins = {}
    for nom, contenu in contenus.items():
        ecrire_atomique(sortie / nom, contenu)
        chemins[nom] = sortie / nom
    return chemins
