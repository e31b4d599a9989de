"""`dce catalogue verifier` : tous les défauts du catalogue d'un coup, avec fichier et ligne.

Un juriste ne doit pas pouvoir publier une clause qui casserait une génération : syntaxe Jinja,
variable inconnue, renvoi vers une clause absente, action SPASER inconnue, versions qui se
chevauchent, modèle Word qui attend une variable que personne ne fournit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Iterable

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateSyntaxError

from . import questionnaire as questionnaire_mod
from . import yaml_lignes
from .catalogue import DOCUMENTS, Clause, lire_clause
from .erreurs import ErreurDonnees, Probleme
from .expressions import ENV_CLAUSES, ENV_EXPRESSIONS

CCAG = {"Travaux", "FCS", "PI", "TIC", "MI", "MOE"}
# Noms que le moteur ajoute au contexte de rendu (regles.contexte_clause, regles.analyser)
NOMS_MOTEUR = {"acheteur", "param", "date_droit", "ccag_intitule", "article", "retenue", "action", "lots_concernes",
               "derogations", "true", "false", "none", "True", "False", "None", "loop", "range", "dict", "lipsum",
               "cycler", "joiner", "namespace"}
ESPACES_REPONSES = ("spaser", "prix", "variantes", "justifications")
VARIABLES_MODELE = {"acheteur_nom", "acheteur_nom_court", "acheteur_adresse", "representant", "titre_document",
                    "sigle_document", "objet", "objet_court", "reference", "procedure", "date_limite",
                    "date_lancement", "logo", "corps", "sommaire"}


class Verificateur:
    def __init__(self, racine: Path):
        self.racine = racine
        self.problemes: list[Probleme] = []

    def pb(self, message: str, fichier: Path | str | None = None, ligne: int | None = None, champ: str | None = None) -> None:
        self.problemes.append(Probleme(message, fichier, ligne, champ))

    # -- noms connus
    def _noms(self, brut: dict[str, Any], q: questionnaire_mod.Questionnaire) -> None:
        self.chemins_reponses = {x.id for x in q.questions}
        self.reponses = {i.split(".")[0] for i in self.chemins_reponses}
        self.champs_lot = {s.id for x in q.questions if x.id == "lots" for s in x.questions}
        calculs = brut.get("calculs") or {}
        self.calculs = [c.get("nom") for c in calculs.get("consultation", [])]
        self.calculs_lot = [c.get("nom") for c in calculs.get("lot", [])]
        self.connus = self.reponses | set(self.calculs) | NOMS_MOTEUR

    def _ligne_de(self, clause_texte: str, mot: str, decalage: int = 0) -> int | None:
        for i, ligne in enumerate(clause_texte.split("\n"), start=1):
            if mot in ligne:
                return i + decalage
        return None

    def _chemins(self, arbre: nodes.Node) -> Iterable[str]:
        """Chemins pointés (spaser.insertion.actif) lus dans un arbre Jinja."""
        for noeud in arbre.find_all(nodes.Getattr):
            morceaux = []
            courant: nodes.Node = noeud
            while isinstance(courant, nodes.Getattr):
                morceaux.append(courant.attr)
                courant = courant.node
            if isinstance(courant, nodes.Name):
                yield ".".join([courant.name, *reversed(morceaux)])

    def _verifier_chemins(self, arbre: nodes.Node, fichier: Path, texte: str, decalage: int, lot_permis: bool) -> None:
        vus = set()
        for chemin in self._chemins(arbre):
            base = chemin.split(".")[0]
            if base in ESPACES_REPONSES:
                # « spaser.insertion.actif » doit être une question ; un préfixe de question est accepté
                if not any(q == chemin or q.startswith(chemin + ".") for q in self.chemins_reponses):
                    if chemin not in vus and not any(chemin.startswith(q + ".") for q in self.chemins_reponses):
                        vus.add(chemin)
                        self.pb(f"réponse « {chemin} » absente du questionnaire", fichier,
                                self._ligne_de(texte, chemin, decalage))
            elif base == "lot" and lot_permis and chemin.count(".") == 1:
                attribut = chemin.split(".")[1]
                if attribut not in self.champs_lot | set(self.calculs_lot) and chemin not in vus:
                    vus.add(chemin)
                    self.pb(f"donnée de lot « {attribut} » fournie ni par le questionnaire ni par les calculs", fichier,
                            self._ligne_de(texte, chemin, decalage))

    # -- clauses
    def clause(self, c: Clause, texte_fichier: str, actions: set[str], ids: set[str]) -> None:
        dossier = c.fichier.parent.name.upper()
        if dossier in DOCUMENTS and dossier != c.document:
            self.pb(f"clause du {c.document} rangée dans clauses/{c.fichier.parent.name}/", c.fichier, 1, "document")
        for action in c.actions:
            if action not in actions:
                self.pb(f"action SPASER « {action} » inconnue du référentiel", c.fichier,
                        self._ligne_de(texte_fichier, "actions"), "actions")
        if not c.references:
            self.pb("référence juridique manquante", c.fichier, 1, "references")
        for d in c.deroge_ccag:
            for cle in (d.get("articles") or {}):
                if cle not in CCAG:
                    self.pb(f"CCAG « {cle} » inconnu ({', '.join(sorted(CCAG))})", c.fichier,
                            self._ligne_de(texte_fichier, "deroge_ccag"), "deroge_ccag")
        connus = self.connus | ({"lot"} if c.portee == "lot" else set())
        for v in c.variables:
            if v.split(".")[0] not in connus:
                self.pb(f"variable déclarée « {v} » fournie ni par le questionnaire ni par les règles", c.fichier,
                        self._ligne_de(texte_fichier, "variables"), "variables")
        # condition
        try:
            arbre = ENV_EXPRESSIONS.parse("{{ " + c.condition + " }}")
        except TemplateSyntaxError as exc:
            self.pb(f"condition illisible : {exc.message}", c.fichier, self._ligne_de(texte_fichier, "condition"),
                    "condition")
        else:
            for nom in sorted(meta.find_undeclared_variables(arbre) - connus):
                self.pb(f"la condition lit « {nom} », fourni ni par le questionnaire ni par les règles", c.fichier,
                        self._ligne_de(texte_fichier, "condition"), "condition")
            self._verifier_chemins(arbre, c.fichier, texte_fichier, 0, c.portee == "lot")
        # corps
        try:
            arbre = ENV_CLAUSES.parse(c.corps)
        except TemplateSyntaxError as exc:
            self.pb(f"syntaxe Jinja invalide : {exc.message}", c.fichier, c.ligne_corps + (exc.lineno or 1) - 1)
            return
        for nom in sorted(meta.find_undeclared_variables(arbre) - connus):
            self.pb(f"variable « {nom} » fournie ni par le questionnaire ni par les règles", c.fichier,
                    self._ligne_de(c.corps, nom, c.ligne_corps - 1))
        self._verifier_chemins(arbre, c.fichier, c.corps, c.ligne_corps - 1, c.portee == "lot")
        for appel in arbre.find_all(nodes.Call):
            if isinstance(appel.node, nodes.Name) and appel.node.name in ("article", "retenue") and appel.args:
                cible = appel.args[0]
                if isinstance(cible, nodes.Const) and cible.value not in ids:
                    self.pb(f"renvoi vers la clause « {cible.value} », qui n'existe pas", c.fichier,
                            c.ligne_corps + appel.lineno - 1)

    def versions(self, clauses: dict[str, list[Clause]]) -> None:
        for ident, versions in clauses.items():
            versions = sorted(versions, key=lambda c: c.du)
            for a, b in zip(versions, versions[1:]):
                fin = a.au or dt.date.max
                if b.du <= fin:
                    self.pb(f"les versions {a.version} et {b.version} de « {ident} » se chevauchent "
                            f"(la version {a.version} doit finir avant le {b.du.strftime('%d/%m/%Y')})",
                            b.fichier, 1, "en_vigueur")

    def modeles(self) -> None:
        from docxtpl import DocxTemplate

        fichiers = sorted((self.racine / "modeles").glob("*.docx"))
        for profil in sorted((self.racine / "acheteurs").glob("*/acheteur.yaml")):
            try:
                doc = yaml_lignes.lire(profil)
            except ErreurDonnees as exc:
                self.problemes.extend(exc.problemes)
                continue
            for nom in ((doc.donnees or {}).get("modeles") or {}).values():
                fichiers.append(profil.parent / str(nom))
        for fichier in fichiers:
            try:
                attendues = DocxTemplate(str(fichier)).get_undeclared_template_variables()
            except Exception as exc:  # noqa: BLE001 - un modèle illisible est un défaut à signaler
                self.pb(f"modèle Word illisible ({exc})", fichier)
                continue
            for nom in sorted(set(attendues) - VARIABLES_MODELE):
                self.pb(f"le modèle attend la variable « {nom} », que dce ne fournit pas "
                        f"(disponibles : {', '.join(sorted(VARIABLES_MODELE))})", fichier)

    def executer(self) -> list[Probleme]:
        fichier = self.racine / "catalogue.yaml"
        try:
            doc = yaml_lignes.lire(fichier)
            q = questionnaire_mod.charger(self.racine / "questionnaire.yaml")
        except ErreurDonnees as exc:
            return exc.problemes
        brut = doc.donnees or {}
        self._noms(brut, q)
        documents = brut.get("documents") or {}
        actions = self._actions(str(brut.get("referentiel", "occitanie")))
        self._calculs(brut, doc)
        chargees: dict[str, list[Clause]] = {}
        textes: dict[Path, str] = {}
        for chemin in sorted((self.racine / "clauses").rglob("*.md")):
            if chemin.name.lower() == "readme.md":
                continue
            try:
                c = lire_clause(chemin, documents)
            except ErreurDonnees as exc:
                self.problemes.extend(exc.problemes)
                continue
            except UnicodeDecodeError:
                self.pb("fichier non encodé en UTF-8", chemin)
                continue
            if any(v.version == c.version for v in chargees.get(c.id, [])):
                autre = next(v for v in chargees[c.id] if v.version == c.version)
                self.pb(f"identifiant « {c.id} » version {c.version} déjà défini dans {autre.fichier.name}", chemin, 2, "id")
            chargees.setdefault(c.id, []).append(c)
            textes[chemin] = chemin.read_text(encoding="utf-8")
        ids = set(chargees)
        for versions in chargees.values():
            for c in versions:
                self.clause(c, textes[c.fichier], actions, ids)
        self.versions(chargees)
        self.modeles()
        return self.problemes

    def _actions(self, referentiel: str) -> set[str]:
        fichier = self.racine / "acheteurs" / referentiel / "referentiel.yaml"
        try:
            doc = yaml_lignes.lire(fichier)
        except ErreurDonnees as exc:
            self.problemes.extend(exc.problemes)
            return set()
        return {str(a.get("id")) for axe in (doc.donnees or {}).get("axes", [])
                for ch in axe.get("chantiers", []) for a in ch.get("actions", [])}

    def _calculs(self, brut: dict[str, Any], doc: yaml_lignes.Document) -> None:
        connus = self.reponses | NOMS_MOTEUR
        for section in ("consultation", "lot"):
            for i, calcul in enumerate((brut.get("calculs") or {}).get(section, [])):
                chemin = f"calculs.{section}.{i}"
                ligne = doc.ligne(chemin + ".expression")
                try:
                    arbre = ENV_EXPRESSIONS.parse("{{ " + str(calcul.get("expression")) + " }}")
                except TemplateSyntaxError as exc:
                    self.pb(f"expression du calcul « {calcul.get('nom')} » illisible : {exc.message}", doc.fichier,
                            ligne, chemin)
                    continue
                for nom in sorted(meta.find_undeclared_variables(arbre) - connus - {"lot"}):
                    self.pb(f"le calcul « {calcul.get('nom')} » lit « {nom} », inconnu à ce stade (l'ordre compte)",
                            doc.fichier, ligne, chemin)
                if not calcul.get("reference"):
                    self.pb(f"référence juridique manquante pour le calcul « {calcul.get('nom')} »", doc.fichier,
                            doc.ligne(chemin), chemin)
                connus = connus | {calcul.get("nom")}


def verifier(racine: Path) -> list[Probleme]:
    """Tous les problèmes du catalogue situé dans `racine`."""
    return Verificateur(racine).executer()
