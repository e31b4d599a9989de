"""Le catalogue du service juridique : plan des documents, paramètres datés, calculs et clauses.

Chaque clause est un fichier Markdown précédé de ses métadonnées YAML ; une même clause peut
avoir plusieurs versions, chacune avec ses dates d'effet. La génération retient la version en
vigueur à la date de lancement de la consultation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import cache, yaml_lignes
from ..erreurs import ErreurDonnees, Probleme

DOCUMENTS = ("RC", "CCAP", "CCTP")
CHAMPS_CLAUSE = {
    "id", "version", "en_vigueur", "titre", "document", "article", "ordre", "actions", "references",
    "statut_juridique", "note_juridique", "condition", "portee", "variables", "deroge_ccag", "decp", "quand", "renvois",
    "s_applique_a", "colonnes_bordereau",
}
# Champ d'application d'une clause (`s_applique_a`) : « toutes », ou les natures du marché et les familles d'achat
# (réponses `nature` et `categorie`) auxquelles elle peut s'appliquer ; une liste absente ne restreint rien ;
# `sauf` écarte des familles pour une nature ({sauf: {fournitures: [restauration_collective]}} : tout achat, sauf
# les denrées). La sélection n'applique jamais une clause hors de son champ ; `dce catalogue verifier` exige le champ.
CHAMPS_APPLICATION = ("natures", "familles", "sauf")
CHAMPS_OBLIGATOIRES = ("id", "version", "en_vigueur", "titre", "document", "article", "references")
# Renvoi d'une clause vers le contenu d'une pièce : une clause (`clause`), un article du plan d'une pièce
# (`piece` + `article`), une réponse (`reponse`) ou une pièce jointe par l'acheteur, désignée par sa nature
# (`piece_acheteur` : liste_sites, liste_personnel… ; réponse `pieces_acheteur`) ; `sinon` : « texte » (la clause dit la chose elle-même quand
# la cible manque, en testant renvoi('id')) ou « erreur » (la génération s'arrête et dit quelle réponse manque).
CHAMPS_RENVOI = {"id", "objet", "clause", "piece", "article", "reponse", "piece_acheteur", "si", "sinon"}
SINON_RENVOI = ("texte", "erreur")
_TEXTES = {"type": "array", "items": {"type": ["string", "number"]}}
_CALCULS = {"type": "array", "items": {"type": "object", "required": ["nom", "expression"], "properties": {
    "nom": {"type": "string"}, "expression": {"type": ["string", "number", "boolean"]},
    "reference": {"type": "string"}, "explication": {"type": "string"}}}}
# Forme de catalogue.yaml : une section mal typée est signalée avec sa ligne avant tout usage.
SCHEMA_CATALOGUE = {
    "type": "object",
    "required": ["version", "documents", "parametres", "calculs", "ccag", "referentiel"],
    "properties": {
        "version": {"type": ["string", "number"]},
        "referentiel": {"type": "string"},
        "documents": {"type": "object", "propertyNames": {"enum": list(DOCUMENTS)}, "additionalProperties": {
            "type": "object", "required": ["articles"], "properties": {
                "titre": {"type": "string"}, "sigle": {"type": "string"},
                "articles": {"type": "array", "items": {"type": "object", "required": ["id", "titre"], "properties": {
                    "id": {"type": "string"}, "titre": {"type": "string"}}}}}}},
        "parametres": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["valeurs"], "properties": {
                "libelle": {"type": "string"}, "reference": {"type": "string"},
                "valeurs": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["du", "valeur"],
                    "properties": {"categorie": {"type": ["string", "null"]}}}}}}},
        "calculs": {"type": "object", "additionalProperties": False,
                    "properties": {"consultation": _CALCULS, "lot": _CALCULS}},
        "ccag": {"type": "object", "additionalProperties": {"type": "string"}},
        "controles": {"type": "array", "items": {"type": "object"}},
    },
}
# Forme de l'en-tête d'une clause.
SCHEMA_CLAUSE = {
    "type": "object",
    "properties": {  # vide (null) : signalé comme champ obligatoire manquant par lire_clause
        "id": {"type": ["string", "null"]}, "version": {"type": ["integer", "null"], "minimum": 1},
        "titre": {"type": ["string", "null"]}, "en_vigueur": {"type": ["object", "null"]},
        "document": {"type": ["string", "null"]}, "article": {"type": ["string", "null"]}, "ordre": {"type": "integer"},
        "actions": {"type": ["object", "array", "null"]}, "references": {**_TEXTES, "type": ["array", "null"]},
        "statut_juridique": {"type": "string"}, "note_juridique": {"type": ["string", "null"]},
        "condition": {"type": ["string", "boolean"]}, "portee": {"type": "string"},
        "variables": {"type": ["array", "null"], "items": {"type": "string"}},
        "deroge_ccag": {"type": ["array", "null"], "items": {"type": "object"}},
        "decp": {"type": ["array", "null"], "items": {"type": "string"}},
        "s_applique_a": {"type": ["string", "object"]},
        "colonnes_bordereau": {"type": "array", "items": {"type": "string"}},
    },
}
# Niveau d'un lien clause → action SPASER (README, « Niveaux des liens SPASER ») : ce que le droit impose à tous,
# ce que l'acheteur choisit ou que sa politique ajoute au-delà du droit, ou le rappel, dans toute consultation, du
# droit ou d'une pratique du socle que l'action cite. Seule la « mise en œuvre » compte dans le bilan.
NIVEAUX = {
    "obligation_legale": "obligation légale",
    "mise_en_oeuvre": "mise en œuvre au-delà du droit",
    "rappel": "rappel",
}
NIVEAUX_COURTS = {"obligation_legale": "obligation légale", "mise_en_oeuvre": "mise en œuvre", "rappel": "rappel"}
CHAMPS_LIEN = {"action", "si"}
DECP = {"Clause sociale", "Critère social", "Marché réservé", "Clause environnementale", "Critère environnemental"}


def racine_projet() -> Path:
    """Dossier qui contient catalogue.yaml : $DCE_RACINE, sinon le dépôt du paquet, sinon le catalogue installé
    avec le paquet (generateur/_catalogue/, voir pyproject.toml), sinon le dossier courant."""
    if os.environ.get("DCE_RACINE"):
        return Path(os.environ["DCE_RACINE"]).resolve()
    ici = Path(__file__).resolve()
    for candidat in (ici.parents[2], ici.parents[1] / "_catalogue"):  # dépôt, puis paquet installé
        if (candidat / "catalogue.yaml").is_file():
            return candidat
    return Path.cwd()


def resoudre_racine(racine: Path | None = None) -> Path:
    """Racine donnée, sinon celle de l'installation (racine_projet) ; toujours absolue."""
    return (racine or racine_projet()).resolve()


@dataclass(frozen=True)
class Lien:
    """Lien d'une clause vers une action du SPASER, avec son niveau ; `si` : expression qui restreint le lien aux
    consultations où elle est vraie (la politique de l'acheteur dépasse-t-elle le minimum légal ?)."""

    action: str
    niveau: str
    si: str = ""


@dataclass
class Clause:
    """Une version d'une clause."""

    id: str
    version: int
    du: dt.date
    au: dt.date | None
    titre: str
    document: str
    article: str
    ordre: int
    actions: list[str]
    references: list[str]
    statut_juridique: str
    note_juridique: str
    condition: str
    portee: str
    variables: list[str]
    deroge_ccag: list[dict[str, Any]]
    decp: list[str]
    corps: str
    fichier: Path
    ligne_corps: int
    empreinte: str
    # Règle de sélection écrite en français (« quand les variantes sont autorisées ») : fiche de traçabilité.
    quand: str = ""
    # Renvois vers le contenu d'une autre pièce ou d'une réponse (voir CHAMPS_RENVOI), vérifiés à la génération.
    renvois: list[dict[str, Any]] = field(default_factory=list)
    # Liens vers les actions du SPASER, chacun avec son niveau (`actions` ne garde que les étiquettes).
    liens: list[Lien] = field(default_factory=list)
    # Champ d'application (`s_applique_a`) : None s'il n'est pas déclaré ; {} pour « toutes » ; sinon
    # {"natures": [...], "familles": [...]} (une clé absente ne restreint rien).
    champ: dict[str, Any] | None = None
    # Colonnes que le candidat renseigne pour chaque ligne du bordereau des prix quand la clause est retenue
    # (« Catégorie EGalim, signe de qualité ou label »…) : cellules déverrouillées du classeur.
    colonnes_bordereau: list[str] = field(default_factory=list)
    # Modèle Jinja compilé, gardé avec la clause par generateur.droit.expressions.modele_clause.
    modele_compile: Any = field(default=None, repr=False, compare=False)

    def en_vigueur(self, jour: dt.date) -> bool:
        return self.du <= jour and (self.au is None or jour <= self.au)

    def s_applique(self, nature: Any, famille: Any) -> bool:
        """La clause peut-elle s'appliquer à un achat de cette nature et de cette famille ? (champ non déclaré :
        oui, `dce catalogue verifier` le signale)."""
        champ = self.champ or {}
        return ((not champ.get("natures") or nature in champ["natures"])
                and (not champ.get("familles") or (famille or "autre") in champ["familles"])
                and (famille or "autre") not in (champ.get("sauf") or {}).get(nature, []))


@dataclass
class Catalogue:
    racine: Path
    version: str
    documents: dict[str, dict[str, Any]]
    parametres: dict[str, dict[str, Any]]
    calculs: dict[str, list[dict[str, Any]]]
    clauses: dict[str, list[Clause]]
    ccag: dict[str, str]
    referentiel: str
    fichier: Path
    document_yaml: yaml_lignes.Document
    # Limites des réponses (section facultative `limites`) : expression, champ du questionnaire, message.
    limites: list[dict[str, Any]] = field(default_factory=list)
    # `empreinte_sans_corps`, calculée à la lecture et gardée avec le catalogue dans le cache disque ; None pour un
    # catalogue fait par `dataclasses.replace` (calculée à la demande)
    sans_corps: str | None = field(default=None, init=False, compare=False, repr=False)

    def empreinte_sans_corps(self) -> str:
        """Empreinte de tout le catalogue hors corps des clauses : catalogue.yaml tel qu'il a été lu (contrôles et
        règles de la relecture compris), ses sections, l'en-tête de chaque version de chaque clause (ce qui décide de
        la sélection, de la numérotation, des renvois et des liens SPASER). Le corps d'une clause modifié ne la
        change pas : ce qui ne dépend pas du corps des clauses est gardé sous elle (`assemblage.cle_consultation`)."""
        if self.sans_corps is None:
            entetes = [replace(c, corps="", empreinte="", modele_compile=None)
                       for versions in self.clauses.values() for c in versions]
            self.sans_corps = cache.empreinte(self.document_yaml.octets or b"", cache.octets_stables(
                (str(self.racine), self.version, self.documents, self.parametres, self.calculs, self.ccag,
                 self.referentiel, self.limites, entetes)))
        return self.sans_corps

    def param(self, nom: str, jour: dt.date, categorie: str | None = None) -> Any:
        """Valeur d'un paramètre juridique en vigueur à une date, pour une catégorie d'acheteur."""
        if nom not in self.parametres:
            raise KeyError(f"paramètre inconnu « {nom} »")
        candidats = []
        for v in self.parametres[nom]["valeurs"]:
            if v.get("categorie") not in (None, categorie):
                continue
            if v["du"] <= jour and (v.get("au") is None or jour <= v["au"]):
                candidats.append(v)
        if not candidats:
            raise KeyError(f"aucune valeur du paramètre « {nom} » en vigueur le {jour.strftime('%d/%m/%Y')}")
        # une valeur propre à la catégorie l'emporte sur la valeur générale
        candidats.sort(key=lambda v: v.get("categorie") is None)
        return candidats[0]["valeur"]

    def versions_en_vigueur(self, jour: dt.date) -> list[Clause]:
        """Pour chaque clause, la version en vigueur à cette date (les clauses sans version en vigueur sont absentes)."""
        retenues = []
        for versions in self.clauses.values():
            for c in versions:
                if c.en_vigueur(jour):
                    retenues.append(c)
                    break
        return retenues

    def articles(self, document: str) -> list[dict[str, Any]]:
        return self.documents[document]["articles"]

    def modeles(self) -> Path:
        return self.racine / "modeles"


def lire_liens(valeur: Any, pb: Any) -> list[Lien]:
    """`actions` de l'en-tête : étiquettes rangées par niveau, par exemple
    `actions: {mise_en_oeuvre: ["6.2"], rappel: ["9.2"]}` ; une étiquette peut être restreinte par une expression :
    `{action: "11.4", si: "…"}`. Une liste sans niveau (ancienne forme) ou un niveau inconnu est refusé."""
    if valeur in (None, [], {}):
        return []
    attendu = ("écrire les étiquettes sous leur niveau, par exemple « actions: {mise_en_oeuvre: [\"6.2\"], "
               "obligation_legale: [\"1.2\"]} » ; niveaux : " + ", ".join(f"{k} ({v})" for k, v in NIVEAUX.items()))
    if not isinstance(valeur, dict):
        pb(f"étiquette SPASER sans niveau : {attendu}", "actions")
        return []
    liens = []
    for niveau, etiquettes in valeur.items():
        if niveau not in NIVEAUX:
            pb(f"niveau « {niveau} » inconnu pour une étiquette SPASER ; niveaux : "
               + ", ".join(f"{k} ({v})" for k, v in NIVEAUX.items()), f"actions.{niveau}")
            continue
        if not isinstance(etiquettes, list) or not etiquettes:
            pb(f"niveau « {niveau} » : une liste d'actions est attendue (par exemple [\"6.2\"])", f"actions.{niveau}")
            continue
        for i, e in enumerate(etiquettes):
            if isinstance(e, (str, int, float)) and str(e).strip():
                liens.append(Lien(str(e), niveau))
            elif isinstance(e, dict) and e.get("action") and not set(e) - CHAMPS_LIEN \
                    and isinstance(e.get("si", ""), str):
                liens.append(Lien(str(e["action"]), niveau, str(e.get("si") or "").strip()))
            else:
                pb("étiquette SPASER invalide : un numéro d'action (\"6.2\") ou {action: \"6.2\", si: \"expression\"}",
                   f"actions.{niveau}.{i}")
    return liens


def _separer(texte: str, fichier: Path) -> tuple[str, str, int]:
    lignes = texte.split("\n")
    if not lignes or lignes[0].strip() != "---":
        raise ErreurDonnees(Probleme("la clause doit commencer par ses métadonnées entre deux lignes « --- »", fichier, 1))
    for i in range(1, len(lignes)):
        if lignes[i].strip() == "---":
            return "\n".join(lignes[1:i]), "\n".join(lignes[i + 1:]), i + 2
    raise ErreurDonnees(Probleme("ligne « --- » de fin des métadonnées introuvable", fichier, 1))


def _liste_de_textes(valeur: Any) -> bool:
    return isinstance(valeur, list) and bool(valeur) and all(isinstance(x, str) for x in valeur)


def lire_clause(fichier: Path, documents: dict[str, dict[str, Any]] | None = None, octets: bytes | None = None) -> Clause:
    """Lit un fichier de clause (`octets` : son contenu, déjà lu) ; lève ErreurDonnees avec tous les problèmes de ses
    métadonnées."""
    try:
        if octets is None:
            octets = fichier.read_bytes()
        texte = octets.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # comme read_text
    except UnicodeDecodeError as exc:
        raise ErreurDonnees(Probleme(f"fichier non encodé en UTF-8 (octet {exc.start}) : une clause est un texte "
                                     "Markdown", fichier)) from None
    entete, corps, ligne_corps = _separer(texte, fichier)
    try:
        doc = yaml_lignes.lire_texte(entete, fichier)
    except ErreurDonnees as exc:  # l'en-tête commence à la ligne 2 du fichier
        raise ErreurDonnees([Probleme(p.message, p.fichier, (p.ligne or 0) + 1, p.champ) for p in exc.problemes]) from None
    meta = doc.donnees if isinstance(doc.donnees, dict) else {}
    problemes = [Probleme(p.message, p.fichier, (p.ligne or 0) + 1, p.champ) for p in yaml_lignes.structure(doc, SCHEMA_CLAUSE)]
    if problemes:
        raise ErreurDonnees(problemes)

    def pb(message: str, champ: str) -> None:
        ligne = doc.ligne(champ)
        problemes.append(Probleme(message, fichier, ligne + 1 if ligne else 1, champ))

    for champ in sorted(set(meta) - CHAMPS_CLAUSE):
        pb("champ inconnu dans les métadonnées de la clause", champ)
    for champ in CHAMPS_OBLIGATOIRES:
        if meta.get(champ) in (None, "", []):
            pb("champ obligatoire manquant", champ)
    vigueur = meta.get("en_vigueur") or {}
    try:
        du = yaml_lignes.en_date(vigueur.get("du")) if isinstance(vigueur, dict) else None
        au = yaml_lignes.en_date(vigueur.get("au")) if isinstance(vigueur, dict) else None
    except ValueError as exc:
        pb(f"date invalide « {exc} »", "en_vigueur")
        du = au = None
    if du is None and "en_vigueur" in meta:
        pb("date d'entrée en vigueur « du » manquante", "en_vigueur")
    if du and au and au < du:
        pb("la date de fin de vigueur précède la date de début", "en_vigueur.au")
    document = meta.get("document")
    if document and document not in DOCUMENTS:
        pb(f"document « {document} » inconnu (RC, CCAP ou CCTP)", "document")
    elif documents and document and meta.get("article") not in {a["id"] for a in documents[document]["articles"]}:
        pb(f"article « {meta.get('article')} » absent du plan du {document} dans catalogue.yaml", "article")
    liens = lire_liens(meta.get("actions"), pb)
    for valeur in meta.get("decp") or []:
        if valeur not in DECP:
            pb(f"considération DECP « {valeur} » inconnue ({', '.join(sorted(DECP))})", "decp")
    if meta.get("portee", "consultation") not in ("consultation", "lot"):
        pb("portée invalide (consultation ou lot)", "portee")
    champ = meta.get("s_applique_a")
    if champ is not None and champ != "toutes" and not (
            isinstance(champ, dict) and champ and set(champ) <= set(CHAMPS_APPLICATION)
            and all(_liste_de_textes(v) for k, v in champ.items() if k != "sauf")
            and ("sauf" not in champ or (isinstance(champ["sauf"], dict) and champ["sauf"]
                                         and all(_liste_de_textes(v) for v in champ["sauf"].values())))):
        pb("champ d'application : « toutes », ou {natures: [travaux, fournitures, services], familles: [...], "
           "sauf: {nature: [familles]}} (une liste non vide par clé)", "s_applique_a")
    renvois = meta.get("renvois") or []
    if not isinstance(renvois, list) or not all(isinstance(r, dict) for r in renvois):
        pb("renvois : une liste d'objets (id, objet, cible, sinon) est attendue", "renvois")
        renvois = []
    for i, r in enumerate(renvois):
        for cle in sorted(set(r) - CHAMPS_RENVOI):
            pb(f"champ « {cle} » inconnu dans un renvoi ({', '.join(sorted(CHAMPS_RENVOI))})", f"renvois.{i}")
        cibles = [c for c in ("clause", "article", "reponse", "piece_acheteur") if r.get(c)]
        if not r.get("id") or not r.get("objet") or len(cibles) != 1:
            pb("un renvoi a un id, un objet et une seule cible : clause, article (avec piece), reponse ou "
               "piece_acheteur", f"renvois.{i}")
        elif r.get("article") and not r.get("piece"):
            pb("renvoi vers un article sans la pièce (piece : RC, CCAP ou CCTP)", f"renvois.{i}")
        if r.get("sinon", "erreur") not in SINON_RENVOI:
            pb(f"renvoi : sinon vaut {' ou '.join(SINON_RENVOI)}", f"renvois.{i}")
    if problemes:
        raise ErreurDonnees(problemes)
    return Clause(
        id=str(meta["id"]), version=int(meta["version"]), du=du, au=au, titre=str(meta["titre"]),
        document=document, article=str(meta["article"]), ordre=int(meta.get("ordre", 100)),
        actions=list(dict.fromkeys(l.action for l in liens)), liens=liens, references=[str(r) for r in meta["references"]],
        statut_juridique=str(meta.get("statut_juridique", "verifie")), note_juridique=str(meta.get("note_juridique") or ""),
        condition=str(meta.get("condition", "true")).strip() or "true", portee=str(meta.get("portee", "consultation")),
        variables=[str(v) for v in meta.get("variables") or []], deroge_ccag=list(meta.get("deroge_ccag") or []),
        decp=list(meta.get("decp") or []), corps=corps, fichier=fichier, ligne_corps=ligne_corps,
        empreinte=hashlib.sha256(texte.encode("utf-8")).hexdigest(),
        quand=str(meta.get("quand") or "").strip(), renvois=[dict(r) for r in renvois],
        colonnes_bordereau=[str(c) for c in meta.get("colonnes_bordereau") or []],
        champ=None if "s_applique_a" not in meta else ({} if meta["s_applique_a"] == "toutes" else
                                                       {k: ({str(n): [str(x) for x in f] for n, f in v.items()}
                                                            if k == "sauf" else [str(x) for x in v])
                                                        for k, v in meta["s_applique_a"].items()}),
    )


def structure(doc: yaml_lignes.Document) -> list[Probleme]:
    """Écarts de catalogue.yaml à sa forme (SCHEMA_CATALOGUE) ; et, pour chaque paramètre, une valeur d'un autre
    type que la première (« quinze » parmi des taux en nombres)."""
    if not isinstance(doc.donnees, dict):
        return [Probleme("le catalogue doit être un ensemble de sections « clé : valeur »", doc.fichier, 1)]
    problemes = [Probleme(f"section « {p.champ} » manquante", p.fichier, 1, p.champ)
                 if p.message == "champ obligatoire manquant" and p.champ and "." not in p.champ else p
                 for p in yaml_lignes.structure(doc, SCHEMA_CATALOGUE)]
    if problemes:
        return problemes
    for nom, parametre in doc.donnees["parametres"].items():
        valeurs = parametre["valeurs"]
        genre = type(valeurs[0]["valeur"])
        for i, v in enumerate(valeurs[1:], start=1):
            if type(v["valeur"]) is not genre and not {type(v["valeur"]), genre} <= {int, float}:
                chemin = f"parametres.{nom}.valeurs.{i}.valeur"
                problemes.append(Probleme(f"valeur « {v['valeur']} » d'un autre type que la première valeur du "
                                          f"paramètre ({valeurs[0]['valeur']!r})", doc.fichier, doc.ligne(chemin), chemin))
    return problemes


@lru_cache(maxsize=8)
def charger(racine: Path) -> Catalogue:
    """Charge catalogue.yaml et toutes les clauses de clauses/ (une seule fois par processus ; d'une commande à
    l'autre, le catalogue lu et validé est gardé dans le cache disque sous l'empreinte du contenu de ces fichiers
    et du code qui les lit : une clause modifiée, ajoutée ou retirée l'invalide)."""
    return cache.objet("catalogue", _empreinte_sources(racine), lambda: _charger(racine))


def _empreinte_sources(racine: Path) -> str:
    parties: list[str | bytes] = [str(racine), cache.version_paquet("yaml"), cache.sources(__file__, yaml_lignes.__file__)]
    for chemin in [racine / "catalogue.yaml", *sorted((racine / "clauses").rglob("*.md"))]:
        try:
            parties += [str(chemin.relative_to(racine)), chemin.read_bytes()]
        except OSError:
            parties += [str(chemin), b"illisible"]
    return cache.empreinte(*parties)


# Chaque clause lue et validée, gardée d'une commande à l'autre sous l'empreinte de son chemin, de son texte et des
# documents du catalogue : après la modification d'une clause, le catalogue est relu sans analyser de nouveau les
# autres (≈ 100 ms par catalogue modifié, en tête de chaque lot régénéré). Une clause invalide n'est jamais gardée.
_CLAUSES = cache.Memoire("clauses", cache.empreinte(cache.sources(__file__, yaml_lignes.__file__),
                                                     cache.version_paquet("yaml")),
                         1024)


def _lire_clause_gardee(chemin: Path, documents: dict[str, dict[str, Any]]) -> Clause:
    try:
        octets = chemin.read_bytes()
        cle = cache.empreinte(str(chemin), octets, pickle.dumps(documents, protocol=4))
    except (OSError, pickle.PicklingError, TypeError):
        return lire_clause(chemin, documents)  # l'erreur, s'il y en a une, est dite par la lecture
    garde = _CLAUSES.lire(cle)
    if isinstance(garde, bytes):
        try:
            clause = pickle.loads(garde)  # une copie à chaque catalogue : rien de partagé entre deux catalogues
            if isinstance(clause, Clause):
                return clause
        except Exception:  # noqa: BLE001 - entrée abîmée : la clause est relue
            pass
    clause = lire_clause(chemin, documents, octets)
    _CLAUSES.ecrire([(cle, pickle.dumps(clause, protocol=pickle.HIGHEST_PROTOCOL))])
    return clause


def _charger(racine: Path) -> Catalogue:
    fichier = racine / "catalogue.yaml"
    doc = yaml_lignes.lire(fichier)
    problemes = structure(doc)
    if problemes:
        raise ErreurDonnees(problemes)
    brut = doc.donnees
    for nom, p in brut["parametres"].items():
        for i, v in enumerate(p.get("valeurs", [])):
            try:
                v["du"] = yaml_lignes.en_date(v["du"])
                v["au"] = yaml_lignes.en_date(v.get("au"))
            except (KeyError, ValueError):
                chemin = f"parametres.{nom}.valeurs.{i}"
                problemes.append(Probleme("date « du » ou « au » invalide", fichier, doc.ligne(chemin), chemin))
    clauses: dict[str, list[Clause]] = {}
    for chemin in sorted((racine / "clauses").rglob("*.md")):
        if chemin.name.lower() == "readme.md":
            continue
        try:
            c = _lire_clause_gardee(chemin, brut["documents"])
        except ErreurDonnees as exc:
            problemes.extend(exc.problemes)
            continue
        versions = clauses.setdefault(c.id, [])
        if any(v.version == c.version for v in versions):
            problemes.append(Probleme(f"identifiant « {c.id} » version {c.version} déjà utilisé", chemin, 2, "id"))
        versions.append(c)
    if problemes:
        raise ErreurDonnees(problemes)
    for versions in clauses.values():
        versions.sort(key=lambda c: c.du, reverse=True)
    catalogue = Catalogue(racine, str(brut["version"]), brut["documents"], brut["parametres"], brut["calculs"],
                          clauses, brut["ccag"], str(brut["referentiel"]), fichier, doc, list(brut.get("limites") or []))
    catalogue.empreinte_sans_corps()  # gardée avec lui dans le cache disque
    return catalogue
