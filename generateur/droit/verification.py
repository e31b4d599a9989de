"""`dce catalogue verifier` : tous les défauts du catalogue d'un coup, avec fichier et ligne.

Un juriste ne doit pas pouvoir publier une clause qui casserait une génération : identifiant en double,
fichier orphelin ou article du plan sans clause, syntaxe Jinja, variable ou réponse inconnue, valeur
de choix inexistante, renvoi vers une clause absente, action SPASER inconnue ou interne, référence,
version ou date d'effet manquante, versions qui se chevauchent ou laissent un vide, valeur
« A_COMPLETER » restée d'un import, modèle Word qui attend une variable que personne ne fournit.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Callable, Iterable

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateSyntaxError

from ..donnees import questionnaire as questionnaire_mod
from ..donnees import yaml_lignes
from ..donnees.catalogue import DOCUMENTS, Clause, lire_clause
from ..donnees.catalogue import structure as structure_catalogue
from ..erreurs import ErreurDonnees, Probleme
from .expressions import ENV_CLAUSES, ENV_EXPRESSIONS
from .regles import NOMS_ANALYSE, NOMS_CLAUSE
from .spaser import EXECUTION, PIECES_EXECUTION

CCAG = {"Travaux", "FCS", "PI", "TIC", "MI", "MOE"}
# Noms connus d'un modèle Jinja de clause : ceux du moteur, les globales de Jinja, ses constantes et `loop`
NOMS_MOTEUR = (set(NOMS_ANALYSE) | set(NOMS_CLAUSE) | set(ENV_CLAUSES.globals)
               | {"true", "false", "none", "True", "False", "None", "loop"})
ESPACES_REPONSES = ("spaser", "prix", "variantes", "justifications", "intervenants", "chantier")
STATUTS = ("verifie", "partiel", "non_verifie")
A_COMPLETER = "A_COMPLETER"
# Attributs qui n'ont de sens que sur un objet du système (fichier, processus, module) : une clause, une règle
# ou un calcul qui les lit tente de sortir du bac à sable (le rendu le refuserait ; la vérification le dit avant).
ATTRIBUTS_SYSTEME = {
    "joinpath", "write_text", "write_bytes", "read_text", "read_bytes", "open", "unlink", "rmdir", "mkdir",
    "touch", "rename", "chmod", "symlink_to", "hardlink_to", "iterdir", "glob", "rglob", "resolve", "absolute",
    "parent", "parents", "home", "cwd", "exists", "is_file", "is_dir", "stat", "system", "popen", "spawn",
    "environ", "getenv", "racine", "catalogue", "modeles", "fichier", "import_module", "eval", "exec",
    "globals", "builtins", "mro", "subclasses", "func_globals", "gi_frame", "f_globals",
}


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
        # valeurs permises des questions à choix, y compris dans les listes (« lots.nature », « criteres.type »)
        self.choix: dict[str, set[str]] = {}
        self.listes = {x.id for x in q.questions if x.type == "liste"}
        for x in q.questions:
            if x.type in ("choix", "choix_multiple"):
                self.choix[x.id] = set(x.choix)
            for s in x.questions:
                if s.type in ("choix", "choix_multiple"):
                    self.choix[f"{x.id}.{s.id}"] = set(s.choix)

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

    def _evasions(self, arbre: nodes.Node, fichier: Path, decalage: int, champ: str | None = None) -> None:
        """Attributs qui tentent de sortir du bac à sable : interne (« _… »), d'un objet système, ou de `param`
        (une fonction, qui s'appelle et ne se visite pas)."""
        for noeud in arbre.find_all(nodes.Getattr):
            base = noeud.node
            if noeud.attr.startswith("_") or noeud.attr in ATTRIBUTS_SYSTEME \
                    or isinstance(base, nodes.Name) and base.name in ("param", "article", "retenue", "action"):
                self.pb(f"accès interdit à « {noeud.attr} » : une clause, une règle ou un calcul ne lit que des "
                        "données (réponses, calculs, param('nom')), jamais un fichier ni un objet du système",
                        fichier, decalage + noeud.lineno, champ)

    def _verifier_chemins(self, arbre: nodes.Node, fichier: Path, texte: str, decalage: int, lot_permis: bool,
                          champ: str | None = None) -> None:
        vus = set()
        for chemin in self._chemins(arbre):
            base = chemin.split(".")[0]
            if base in ESPACES_REPONSES:
                # « spaser.insertion.actif » doit être une question ; un préfixe de question est accepté
                if not any(q == chemin or q.startswith(chemin + ".") for q in self.chemins_reponses):
                    if chemin not in vus and not any(chemin.startswith(q + ".") for q in self.chemins_reponses):
                        vus.add(chemin)
                        self.pb(f"réponse « {chemin} » absente du questionnaire", fichier,
                                self._ligne_de(texte, chemin, decalage), champ)
            elif base == "lot" and lot_permis and chemin.count(".") == 1:
                attribut = chemin.split(".")[1]
                if attribut not in self.champs_lot | set(self.calculs_lot) and chemin not in vus:
                    vus.add(chemin)
                    self.pb(f"donnée de lot « {attribut} » fournie ni par le questionnaire ni par les calculs", fichier,
                            self._ligne_de(texte, chemin, decalage), champ)

    def _chemin(self, noeud: nodes.Node, alias: dict[str, str]) -> str | None:
        morceaux = []
        while isinstance(noeud, nodes.Getattr):
            morceaux.append(noeud.attr)
            noeud = noeud.node
        if not isinstance(noeud, nodes.Name):
            return None
        base = alias.get(noeud.name, noeud.name)
        return ".".join([base, *reversed(morceaux)])

    @staticmethod
    def _constantes(noeud: nodes.Node) -> list[str] | None:
        if isinstance(noeud, nodes.Const) and isinstance(noeud.value, str):
            return [noeud.value]
        if isinstance(noeud, (nodes.List, nodes.Tuple)) and all(isinstance(i, nodes.Const) for i in noeud.items):
            return [str(i.value) for i in noeud.items]
        return None

    def _verifier_valeurs(self, arbre: nodes.Node, fichier: Path, texte: str, decalage: int, champ: str | None) -> None:
        """« nature == 'travail' » : une valeur comparée à une réponse à choix doit être l'un de ses choix."""
        alias = {"lot": "lots"}
        for boucle in arbre.find_all(nodes.For):
            if isinstance(boucle.iter, nodes.Name) and boucle.iter.name in self.listes and isinstance(boucle.target, nodes.Name):
                alias[boucle.target.name] = boucle.iter.name
        vus: set[tuple[str, str]] = set()

        def controler(chemin: str | None, valeurs: list[str] | None, noeud: nodes.Node) -> None:
            if not chemin or valeurs is None or chemin not in self.choix:
                return
            for v in valeurs:
                if v not in self.choix[chemin] and (chemin, v) not in vus:
                    vus.add((chemin, v))
                    ligne = self._ligne_de(texte, f"'{v}'", decalage) or self._ligne_de(texte, f'"{v}"', decalage)
                    self.pb(f"valeur « {v} » inconnue pour la réponse « {chemin} » (valeurs possibles : "
                            f"{', '.join(sorted(self.choix[chemin]))})", fichier, ligne, champ)

        for comparaison in arbre.find_all(nodes.Compare):
            gauche = comparaison.expr
            for operande in comparaison.ops:
                droite = operande.expr
                controler(self._chemin(gauche, alias), self._constantes(droite), comparaison)
                if operande.op in ("eq", "ne"):
                    controler(self._chemin(droite, alias), self._constantes(gauche), comparaison)
                elif operande.op in ("in", "notin") and isinstance(gauche, nodes.Const):
                    controler(self._chemin(droite, alias), self._constantes(gauche), comparaison)
                gauche = droite
        for filtre in arbre.find_all(nodes.Filter):
            if filtre.name in ("selectattr", "rejectattr") and len(filtre.args) == 3 and filtre.node is not None:
                base = self._chemin(filtre.node, alias)
                attribut, test, valeur = filtre.args
                if base in self.listes and isinstance(attribut, nodes.Const) and isinstance(test, nodes.Const) \
                        and test.value in ("equalto", "eq", "==", "in"):
                    controler(f"{base}.{attribut.value}", self._constantes(valeur), filtre)

    # -- clauses
    def clause(self, c: Clause, texte_fichier: str, actions: dict[str, bool], ids: set[str]) -> None:
        dossier = c.fichier.parent.name.upper()
        if dossier in DOCUMENTS and dossier != c.document:
            self.pb(f"clause du {c.document} rangée dans clauses/{c.fichier.parent.name}/", c.fichier, 1, "document")
        if not c.id.startswith(c.document.lower() + "-"):
            self.pb(f"l'identifiant « {c.id} » d'une clause du {c.document} doit commencer par « {c.document.lower()}- »",
                    c.fichier, self._ligne_de(texte_fichier, "id:"), "id")
        for action in c.actions:
            if action not in actions:
                self.pb(f"action SPASER « {action} » inconnue du référentiel", c.fichier,
                        self._ligne_de(texte_fichier, "actions:"), "actions")
            elif not actions[action]:
                self.pb(f"action SPASER « {action} » interne à l'acheteur (dce: false dans le référentiel) : "
                        "aucune clause d'un DCE ne peut la mettre en œuvre", c.fichier,
                        self._ligne_de(texte_fichier, "actions:"), "actions")
        if c.statut_juridique not in STATUTS:
            self.pb(f"statut juridique « {c.statut_juridique} » inconnu ({', '.join(STATUTS)})", c.fichier,
                    self._ligne_de(texte_fichier, "statut_juridique"), "statut_juridique")
        elif c.statut_juridique != "verifie" and not c.note_juridique.strip():
            self.pb(f"statut « {c.statut_juridique} » sans note_juridique : dire ce qui reste à vérifier", c.fichier,
                    self._ligne_de(texte_fichier, "statut_juridique"), "note_juridique")
        if not c.corps.strip():
            self.pb("corps de la clause vide", c.fichier, c.ligne_corps)
        if not c.references:
            self.pb("référence juridique manquante", c.fichier, 1, "references")
        if not c.quand:
            self.pb("règle lisible manquante : écrire en français quand la clause est retenue (quand: \"toujours\", "
                    "quand: \"quand les variantes sont autorisées\"…) ; la fiche de traçabilité l'affiche",
                    c.fichier, self._ligne_de(texte_fichier, "condition:"), "quand")
        if c.champ is None:
            self.pb("champ d'application manquant : écrire après « portee: » les natures et familles d'achat auxquelles "
                    "la clause s'applique (s_applique_a: toutes, ou s_applique_a: {natures: [...], familles: [...]})",
                    c.fichier, self._ligne_de(texte_fichier, "portee:"), "s_applique_a")
        else:
            sauf = c.champ.get("sauf") or {}
            for cle, question, valeurs in (("natures", "nature", c.champ.get("natures") or []),
                                           ("familles", "categorie", c.champ.get("familles") or []),
                                           ("natures", "nature", list(sauf)),
                                           ("familles", "categorie", [f for fs in sauf.values() for f in fs])):
                for valeur in valeurs:
                    if valeur not in self.choix.get(question, set()):
                        self.pb(f"champ d'application : {cle[:-1]} « {valeur} » inconnue du questionnaire "
                                f"({', '.join(sorted(self.choix.get(question, set())))})", c.fichier,
                                self._ligne_de(texte_fichier, "s_applique_a"), "s_applique_a")
        self._renvois(c, texte_fichier, ids)
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
            self._evasions(arbre, c.fichier, (self._ligne_de(texte_fichier, "condition") or 1) - 1, "condition")
            self._verifier_chemins(arbre, c.fichier, texte_fichier, 0, c.portee == "lot", "condition")
            self._verifier_valeurs(arbre, c.fichier, texte_fichier, 0, "condition")
        # conditions « si » des liens SPASER : évaluées sur la consultation (pas sur un lot)
        for lien in c.liens:
            if not lien.si:
                continue
            ligne = self._ligne_de(texte_fichier, lien.si[:40]) or self._ligne_de(texte_fichier, "actions:")
            try:
                arbre = ENV_EXPRESSIONS.parse("{{ " + lien.si + " }}")
            except TemplateSyntaxError as exc:
                self.pb(f"condition « si » du lien vers l'action {lien.action} illisible : {exc.message}", c.fichier,
                        ligne, "actions")
                continue
            lus = meta.find_undeclared_variables(arbre)
            for nom in sorted(lus - self.connus - {EXECUTION}):
                self.pb(f"la condition « si » du lien vers l'action {lien.action} lit « {nom} », fourni ni par le "
                        "questionnaire ni par les règles", c.fichier, ligne, "actions")
            if EXECUTION in lus and c.document in PIECES_EXECUTION:
                self.pb(f"la condition « si » du lien vers l'action {lien.action} lit « {EXECUTION}(…) », qui ne se "
                        f"lit que dans une clause du RC : une clause du {c.document} est elle-même une clause "
                        "d'exécution", c.fichier, ligne, "actions")
            self._evasions(arbre, c.fichier, (ligne or 1) - 1, "actions")
        # corps
        try:
            arbre = ENV_CLAUSES.parse(c.corps)
        except TemplateSyntaxError as exc:
            self.pb(f"syntaxe Jinja invalide : {exc.message}", c.fichier, c.ligne_corps + (exc.lineno or 1) - 1)
            return
        for nom in sorted(meta.find_undeclared_variables(arbre) - connus):
            self.pb(f"variable « {nom} » fournie ni par le questionnaire ni par les règles", c.fichier,
                    self._ligne_de(c.corps, nom, c.ligne_corps - 1))
        self._evasions(arbre, c.fichier, c.ligne_corps - 1)
        self._verifier_chemins(arbre, c.fichier, c.corps, c.ligne_corps - 1, c.portee == "lot")
        self._verifier_valeurs(arbre, c.fichier, c.corps, c.ligne_corps - 1, None)
        for appel in arbre.find_all(nodes.Call):
            if isinstance(appel.node, nodes.Name) and appel.node.name == "renvoi" and appel.args:
                cible = appel.args[0]
                if isinstance(cible, nodes.Const) and cible.value not in {r.get("id") for r in c.renvois}:
                    self.pb(f"renvoi('{cible.value}') non déclaré dans l'en-tête de la clause (renvois)", c.fichier,
                            c.ligne_corps + appel.lineno - 1, "renvois")
            if isinstance(appel.node, nodes.Name) and appel.node.name in ("article", "retenue") and appel.args:
                cible = appel.args[0]
                if isinstance(cible, nodes.Const) and cible.value not in ids:
                    self.pb(f"renvoi vers la clause « {cible.value} », qui n'existe pas", c.fichier,
                            c.ligne_corps + appel.lineno - 1)

    def _renvois(self, c: Clause, texte_fichier: str, ids: set[str]) -> None:
        """Chaque renvoi désigne une clause, un article du plan ou une réponse qui existent ; un renvoi
        `sinon: texte` est lu par la clause (renvoi('id')), qui dit alors la chose elle-même."""
        ligne = self._ligne_de(texte_fichier, "renvois:")
        for r in c.renvois:
            ident = r.get("id")
            if r.get("clause") and r["clause"] not in ids:
                self.pb(f"renvoi « {ident} » vers la clause « {r['clause']} », qui n'existe pas", c.fichier, ligne, "renvois")
            if r.get("article"):
                plan = {a.get("id") for a in ((self.documents.get(r.get("piece")) or {}).get("articles") or [])}
                if r["article"] not in plan:
                    self.pb(f"renvoi « {ident} » vers l'article « {r['article']} », absent du plan du {r.get('piece')}",
                            c.fichier, ligne, "renvois")
            if r.get("reponse") and not any(q == r["reponse"] or q.startswith(str(r["reponse"]) + ".")
                                            for q in self.chemins_reponses):
                self.pb(f"renvoi « {ident} » vers la réponse « {r['reponse']} », absente du questionnaire", c.fichier,
                        ligne, "renvois")
            natures = self.choix.get("pieces_acheteur.nature", set())
            if r.get("piece_acheteur") and r["piece_acheteur"] not in natures:
                self.pb(f"renvoi « {ident} » vers une pièce de l'acheteur de nature « {r['piece_acheteur']} », inconnue "
                        f"du questionnaire (natures possibles : {', '.join(sorted(natures))})", c.fichier, ligne, "renvois")
            if r.get("si"):
                try:
                    ENV_EXPRESSIONS.parse("{{ " + str(r["si"]) + " }}")
                except TemplateSyntaxError as exc:
                    self.pb(f"renvoi « {ident} » : condition « si » illisible : {exc.message}", c.fichier, ligne, "renvois")
            if r.get("sinon", "erreur") == "texte" and not re.search(rf"renvoi\(\s*['\"]{re.escape(str(ident))}['\"]", c.corps):
                self.pb(f"renvoi « {ident} » (sinon: texte) jamais lu par la clause : tester {{% if renvoi('{ident}') %}} "
                        "et dire la chose elle-même quand la cible manque", c.fichier, ligne, "renvois")

    def versions(self, clauses: dict[str, list[Clause]], textes: dict[Path, str]) -> None:
        """Versions d'une même clause : ni chevauchement, ni période sans aucune version en vigueur."""
        for ident, versions in clauses.items():
            versions = sorted(versions, key=lambda c: c.du)
            for a, b in zip(versions, versions[1:]):
                fin = a.au or dt.date.max
                ligne = self._ligne_de(textes.get(b.fichier, ""), "en_vigueur") or 1
                if b.du <= fin:
                    self.pb(f"les versions {a.version} et {b.version} de « {ident} » se chevauchent "
                            f"(la version {a.version} doit finir avant le {b.du.strftime('%d/%m/%Y')})",
                            b.fichier, ligne, "en_vigueur")
                elif b.du > fin + dt.timedelta(days=1):
                    self.pb(f"aucune version de « {ident} » n'est en vigueur du {(fin + dt.timedelta(days=1)).strftime('%d/%m/%Y')}"
                            f" au {(b.du - dt.timedelta(days=1)).strftime('%d/%m/%Y')} (version {a.version} close le "
                            f"{fin.strftime('%d/%m/%Y')}, version {b.version} en vigueur le {b.du.strftime('%d/%m/%Y')})",
                            b.fichier, ligne, "en_vigueur")

    def fichiers(self) -> list[Path]:
        """Fichiers de clauses lus par le moteur ; signale ceux qu'il ignorerait ou rangerait mal."""
        dossier = self.racine / "clauses"
        if not dossier.is_dir():
            self.pb("dossier des clauses introuvable", dossier)
            return []
        retenus = []
        for chemin in sorted(p for p in dossier.rglob("*") if p.is_file()):
            relatif = chemin.relative_to(dossier)
            if any(part.startswith(".") for part in relatif.parts) or chemin.name.lower() == "readme.md":
                continue
            if chemin.suffix != ".md":
                self.pb("fichier orphelin : le moteur ne lit que les fichiers .md ; le convertir en clause "
                        "(dce catalogue importer pour un document Word) ou le retirer de clauses/", chemin)
                continue
            if len(relatif.parts) != 2 or relatif.parts[0].upper() not in DOCUMENTS:
                self.pb("fichier de clause orphelin : une clause se range dans clauses/rc, clauses/ccap ou clauses/cctp",
                        chemin)
            retenus.append(chemin)
        return retenus

    def a_completer(self, chemin: Path, texte: str) -> None:
        """Valeurs « A_COMPLETER » laissées par `dce catalogue importer`."""
        separateurs = 0
        for i, ligne in enumerate(texte.split("\n"), start=1):
            separateurs += ligne.strip() == "---"
            entete = separateurs == 1
            avant_commentaire = ligne.split(" #")[0] if entete and not ligne.lstrip().startswith("#") else ligne
            if A_COMPLETER in avant_commentaire:
                champ = ligne.split(":")[0].strip() if entete and ":" in ligne and not ligne.startswith(" ") else None
                self.pb(f"valeur « {A_COMPLETER} » à compléter avant publication", chemin, i, champ)

    def plan(self, documents: dict[str, Any], clauses: dict[str, list[Clause]], doc: yaml_lignes.Document) -> None:
        """Chaque article du plan d'une pièce reçoit au moins une clause."""
        occupes = {(c.document, c.article) for versions in clauses.values() for c in versions}
        for document, definition in documents.items():
            for i, article in enumerate((definition or {}).get("articles") or []):
                if (document, article.get("id")) not in occupes:
                    chemin = f"documents.{document}.articles.{i}"
                    self.pb(f"aucun fichier de clause pour l'article « {article.get('id')} » du plan du {document} "
                            f"(clause manquante, ou article à retirer du plan)", doc.fichier, doc.ligne(chemin), chemin)

    def executer(self, modeles: Callable[[Path], list[Probleme]] | None = None) -> list[Probleme]:
        fichier = self.racine / "catalogue.yaml"
        try:
            q = questionnaire_mod.charger(self.racine / "questionnaire.yaml")
        except ErreurDonnees as exc:
            return exc.problemes
        try:
            doc = yaml_lignes.lire(fichier)
        except ErreurDonnees as exc:  # catalogue.yaml illisible : les clauses sont vérifiées quand même
            self.problemes.extend(exc.problemes)
            doc = None
        mal_forme = structure_catalogue(doc) if doc else []
        if mal_forme:
            self.problemes.extend(mal_forme)
            doc = None
        brut = doc.donnees if doc and isinstance(doc.donnees, dict) else {}
        self._noms(brut, q)
        documents = brut.get("documents") or {}
        self.documents = documents
        actions = self._actions(str(brut.get("referentiel", "occitanie")))
        self._calculs(brut, doc)
        chargees: dict[str, list[Clause]] = {}
        textes: dict[Path, str] = {}
        for chemin in self.fichiers():
            try:
                texte = chemin.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                self.pb("fichier non encodé en UTF-8", chemin)
                continue
            self.a_completer(chemin, texte)
            try:
                c = lire_clause(chemin, documents)
            except ErreurDonnees as exc:
                self.problemes.extend(exc.problemes)
                continue
            if any(v.version == c.version for v in chargees.get(c.id, [])):
                autre = next(v for v in chargees[c.id] if v.version == c.version)
                self.pb(f"identifiant « {c.id} » version {c.version} déjà défini dans {autre.fichier.name}", chemin,
                        self._ligne_de(texte, "id:") or 2, "id")
            chargees.setdefault(c.id, []).append(c)
            textes[chemin] = texte
        if doc is None:  # sans le plan ni les calculs, le reste ne dirait que des faux problèmes
            return self.problemes
        ids = set(chargees)
        for versions in chargees.values():
            for c in versions:
                self.clause(c, textes[c.fichier], actions, ids)
        self._correspondances_par_clause(chargees)
        self.versions(chargees, textes)
        self.plan(documents, chargees, doc)
        self.problemes.extend(modeles(self.racine) if modeles else [])
        return self.problemes

    def _correspondances_par_clause(self, chargees: dict[str, list[Clause]]) -> None:
        """`correspondance_clauses` de chaque référentiel d'acheteur : clause du catalogue, étiquette que la clause
        porte, actions du référentiel."""
        for fichier in sorted((self.racine / "acheteurs").glob("*/referentiel.yaml")):
            try:
                doc = yaml_lignes.lire(fichier)
            except ErreurDonnees:
                continue  # signalé au chargement du profil
            donnees = doc.donnees if isinstance(doc.donnees, dict) else {}
            propres = {str(a.get("id")) for axe in donnees.get("axes", []) for ch in axe.get("chantiers", [])
                       for a in ch.get("actions", [])}
            for ident, etiquettes in (donnees.get("correspondance_clauses") or {}).items():
                chemin = f"correspondance_clauses.{ident}"
                if ident not in chargees:
                    self.pb(f"clause « {ident} » absente du catalogue", fichier, doc.ligne(chemin), chemin)
                    continue
                portees = {l.action for c in chargees[ident] for l in c.liens}
                for etiquette, cibles in (etiquettes or {}).items():
                    if str(etiquette) not in portees:
                        self.pb(f"la clause « {ident} » ne porte pas l'étiquette « {etiquette} »", fichier,
                                doc.ligne(chemin), chemin)
                    for cible in cibles or []:
                        if str(cible) not in propres:
                            self.pb(f"action « {cible} » absente de ce référentiel", fichier, doc.ligne(chemin), chemin)

    def _actions(self, referentiel: str) -> dict[str, bool]:
        """Actions du référentiel : identifiant → peut être portée par un DCE (dce: true)."""
        fichier = self.racine / "acheteurs" / referentiel / "referentiel.yaml"
        try:
            doc = yaml_lignes.lire(fichier)
        except ErreurDonnees as exc:
            self.problemes.extend(exc.problemes)
            return {}
        return {str(a.get("id")): bool(a.get("dce", True)) for axe in (doc.donnees or {}).get("axes", [])
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
                self._evasions(arbre, doc.fichier, (ligne or 1) - 1, chemin + ".expression")
                for nom in sorted(meta.find_undeclared_variables(arbre) - connus - {"lot"}):
                    self.pb(f"le calcul « {calcul.get('nom')} » lit « {nom} », inconnu à ce stade (l'ordre compte)",
                            doc.fichier, ligne, chemin)
                if not calcul.get("reference"):
                    self.pb(f"référence juridique manquante pour le calcul « {calcul.get('nom')} »", doc.fichier,
                            doc.ligne(chemin), chemin)
                connus = connus | {calcul.get("nom")}
        for i, limite in enumerate(brut.get("limites") or []):
            chemin = f"limites.{i}"
            if limite.get("champ") not in self.chemins_reponses:
                self.pb(f"limite sur « {limite.get('champ')} », absent du questionnaire", doc.fichier, doc.ligne(chemin),
                        chemin)
            if not limite.get("reference") or not limite.get("message"):
                self.pb("limite sans référence ou sans message", doc.fichier, doc.ligne(chemin), chemin)
            try:
                arbre = ENV_EXPRESSIONS.parse("{{ " + str(limite.get("expression")) + " }}")
            except TemplateSyntaxError as exc:
                self.pb(f"expression de limite illisible : {exc.message}", doc.fichier, doc.ligne(chemin), chemin)
                continue
            for nom in sorted(meta.find_undeclared_variables(arbre) - connus):
                self.pb(f"la limite lit « {nom} », fourni ni par le questionnaire ni par les calculs", doc.fichier,
                        doc.ligne(chemin), chemin)


def verifier(racine: Path, modeles: Callable[[Path], list[Probleme]] | None = None) -> list[Probleme]:
    """Tous les problèmes du catalogue situé dans `racine`, avec des chemins relatifs à ce dossier.

    Le droit ne connaît pas le Word : les modèles Word du catalogue et des profils sont vérifiés par la
    fonction `modeles` que fournit la couche de rendu (generateur.rendu.documents.verifier_modeles)."""
    problemes = Verificateur(racine).executer(modeles)
    for p in problemes:
        if p.fichier:
            try:
                p.fichier = Path(p.fichier).resolve().relative_to(racine.resolve())
            except ValueError:
                pass
    return problemes
