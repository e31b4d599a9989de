"""Assistant web local : le questionnaire dans le navigateur, le DCE en téléchargement.

Application Flask rendue côté serveur (gabarits Jinja, échappement automatique) : une page par section
du questionnaire, les suggestions du SPASER, un récapitulatif, la génération et le téléchargement du DCE,
la liste des consultations. Le formulaire est produit depuis questionnaire.yaml ; les erreurs viennent
de `reponses.valider` ; le fichier de réponses est écrit par l'assistant de `dce nouveau` ; la génération
suit le chemin de la régénération en lot. Aucune ressource distante : rien ne quitte la machine.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shutil
from pathlib import Path
from typing import Any

from flask.globals import request_ctx
from flask import Flask, Response, abort, flash, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ...donnees import catalogue, formats, questionnaire as module_questionnaire, reponses
from ...donnees.fichiers import nom_sur
from ...donnees.formats import pluriel
from ...pieces.lecture import controler
from ...droit.regles import preparer
from ...donnees import cpv as module_cpv, saisie as module_saisie
from ...droit import suggestions as module_suggestions
from ...donnees import yaml_lignes
from ..assistant import SUGGESTIONS
from ...erreurs import ErreurDCE, ErreurDonnees, Probleme
from ...donnees.questionnaire import Questionnaire
from . import consultations, formulaire, propositions, publication_web
from .consultations import Brouillons, VersionDepassee

TAILLE_MAX_ENVOI = 2 * 1024 * 1024  # un fichier de réponses réel pèse quelques kilo-octets
HOTES_LOCAUX = ("127.0.0.1", "localhost", "::1")
_PONCTUATION = ((" :", "\u00a0:"), (" ;", "\u202f;"), (" !", "\u202f!"), (" ?", "\u202f?"),
                ("« ", "«\u00a0"), (" »", "\u00a0»"))


def codes_cpv(questionnaire: Questionnaire) -> Response:
    """Codes CPV pour le champ de recherche (libellé ou premiers chiffres), ceux de la nature choisie d'abord, avec
    la nature que chacun désigne d'ordinaire (règle `d_apres_cpv` du questionnaire) ; assistant local et serveur
    d'équipe."""
    regle = getattr(questionnaire.question("nature"), "d_apres_cpv", {}) or {}
    texte = str(request.args.get("q", ""))[:100]
    nature = str(request.args.get("nature", "")) or None
    trouves = module_cpv.chercher(texte, 15, regle, nature) if len(texte.strip()) >= 2 else []
    return jsonify([{"code": c.code, "libelle": c.libelle, "nature": module_cpv.nature_proposee(c.code, regle)}
                    for c in trouves])

def insecables(texte: Any) -> str:
    """Typographie française à l'écran : espace insécable avant « : ; ! ? » et à l'intérieur des guillemets."""
    texte = str(texte)
    for avant, apres in _PONCTUATION:
        texte = texte.replace(avant, apres)
    return texte


def jeton() -> str:
    """Jeton CSRF de la session, à renvoyer dans chaque formulaire (champ caché `_csrf`)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def verifier_jeton() -> None:
    """Avant chaque requête : un envoi (POST) sans le jeton de la session est refusé (400)."""
    if request.method == "POST":
        envoye = str(request.form.get("_csrf", ""))
        attendu = str(session.get("csrf", ""))
        if not attendu or not hmac.compare_digest(envoye, attendu):
            abort(400, "Jeton de sécurité absent ou expiré : recharger la page puis renvoyer le formulaire.")


def entetes(reponse: Response) -> Response:
    """En-têtes de sécurité de chaque réponse : aucune ressource distante, pas de cadre, pas de cache."""
    reponse.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    reponse.headers["X-Content-Type-Options"] = "nosniff"
    reponse.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "static":
        reponse.headers["Cache-Control"] = "no-store"
    return reponse


def configurer_gabarits(app: Flask) -> None:
    """Gabarits Jinja : blocs sans lignes vides, filtres de mise en forme française."""
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(formats.FILTRES)
    app.jinja_env.filters["insecables"] = insecables
    app.jinja_env.filters["initiale"] = lambda texte: str(texte)[:1].upper() + str(texte)[1:]


def create_app(racine: Path | None = None, dossier_consultations: Path | None = None, *,
               hote: str = "127.0.0.1") -> Flask:
    """Application web pour le catalogue `racine` et le dossier de consultations donnés."""
    racine = catalogue.resoudre_racine(racine)
    dossier = Path(dossier_consultations or "consultations").resolve()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        MAX_CONTENT_LENGTH=TAILLE_MAX_ENVOI,
        MAX_FORM_MEMORY_SIZE=TAILLE_MAX_ENVOI,
        MAX_FORM_PARTS=20000,  # 60 lots de plusieurs dizaines de lignes de prix restent en deçà
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
        TRUSTED_HOSTS=list(HOTES_LOCAUX) if hote in HOTES_LOCAUX else None,  # contre le rebond DNS
    )
    configurer_gabarits(app)
    brouillons = Brouillons(dossier)

    def q() -> Questionnaire:
        return module_questionnaire.charger(racine / "questionnaire.yaml")

    def liste_suggestions() -> list[module_suggestions.Suggestion]:
        return module_suggestions.charger(racine / "questionnaire.yaml")

    def justifications() -> set[str]:
        """Réponses demandées seulement au refus d'une suggestion : posées sur la page des suggestions."""
        return module_suggestions.justifications(liste_suggestions())

    def decidees(ident: str) -> dict[str, tuple[str, bool]]:
        """Questions tranchées à l'étape des suggestions (réponses `active` d'une suggestion retenue ou refusée) :
        chemin → (titre de la suggestion, retenue). Leur page ne les redemande pas ; listes exclues (complétées)."""
        resultat: dict[str, tuple[str, bool]] = {}
        decisions = session.get(f"decisions-{ident}", {})
        for s in liste_suggestions():
            if s.id not in decisions:
                continue
            for chemin in s.active:
                question = q().question(chemin)
                if question is not None and question.type != "liste":
                    resultat[chemin] = (s.titre, bool(decisions[s.id]))
        return resultat

    def caches(ident: str) -> set[str]:
        """Questions qu'une page de section ne pose pas : justifications et réponses tranchées par les suggestions."""
        return justifications() | set(decidees(ident))

    def etapes() -> list[dict[str, Any]]:
        """Sections du questionnaire qui ont des questions, et l'étape des suggestions après la dernière `apres`."""
        caches = justifications()
        liste = [{"id": str(s["id"]), "titre": str(s["titre"]), "aide": str(s.get("aide", ""))}
                 for s in q().sections
                 if any(x.id not in caches for x in formulaire.questions_section(q(), str(s["id"])))]
        if liste_suggestions():
            ordre = [str(s["id"]) for s in q().sections]
            apres = max(ordre.index(s.apres) for s in liste_suggestions())
            rang = max((i for i, e in enumerate(liste) if ordre.index(e["id"]) <= apres), default=-1) + 1
            titre = propositions.assistant(racine, {}).titres[SUGGESTIONS]
            liste.insert(rang, {"id": propositions.ETAPE, "titre": titre,
                                "aide": "Options du SPASER proposées d'après la nature, la famille d'achat, les montants "
                                        "et les lots : retenir ou non chacune, et justifier un refus quand la loi l'exige."})
        return liste

    def suivante(etape: str, decalage: int = 1) -> str | None:
        ids = [e["id"] for e in etapes()]
        rang = ids.index(etape) + decalage
        return ids[rang] if 0 <= rang < len(ids) else None

    def adresse_etape(ident: str, etape: str | None, **options: Any) -> str:
        if etape is None:
            return url_for("recapitulatif", ident=ident)
        if etape == propositions.ETAPE:
            return url_for("page_suggestions", ident=ident, **options)
        return url_for("section", ident=ident, section=etape, **options)

    def a_ecrire(donnees: dict[str, Any]) -> dict[str, Any]:
        """Réponses que le fichier contiendra (sans les questions masquées) ; brutes si elles sont illisibles."""
        try:
            return propositions.assistant(racine, donnees).sortie()
        except (ErreurDCE, ValueError, TypeError):
            return donnees

    def valider(donnees: dict[str, Any]) -> list[Probleme]:
        return formulaire.valider(q(), a_ecrire(donnees))

    def liens_problemes(ident: str, problemes: list[Probleme]) -> list[tuple[str, str, str]]:
        """(section, adresse du champ en erreur, message) ; adresse vide pour un problème hors des sections."""
        liens = []
        for p in problemes:
            section = formulaire.section_du_champ(q(), p.champ) or ""
            adresse = adresse_etape(ident, section, verifier=1, _anchor=formulaire.ident_html(p.champ or "")) if section else ""
            liens.append((section, adresse, formulaire.message(p)))
        return liens

    # --- sécurité ---------------------------------------------------------------------------------------

    app.before_request(verifier_jeton)
    app.after_request(entetes)

    @app.context_processor
    def globales() -> dict[str, Any]:
        return {"csrf": jeton, "dossier_consultations": dossier}

    @app.errorhandler(HTTPException)
    def erreur_http(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            message = f"Envoi trop volumineux : au plus {TAILLE_MAX_ENVOI // (1024 * 1024)} Mo."
        elif exc.code == 404:
            message = "Page introuvable : cette consultation ou cette saisie n'existe pas, ou a été supprimée."
        elif isinstance(exc, formulaire.FormulaireIncoherent) or (
                exc.code == 400 and exc.description and exc.description.startswith("Jeton")):
            message = exc.description
        elif exc.code == 400:
            message = "Requête invalide (adresse du serveur non reconnue ou formulaire incomplet)."
        else:
            message = f"Erreur {exc.code}."
        if request_ctx.url_adapter is None:  # hôte refusé : pas de page habillée, un texte suffit
            return Response(message + "\n", status=exc.code, content_type="text/plain; charset=utf-8")
        return render_template("erreur.html", message=message, code=exc.code), exc.code

    # --- accueil : consultations et saisies en cours ----------------------------------------------------

    def page_accueil(problemes: list[Probleme], statut: int = 200):
        return render_template("accueil.html", fiches=consultations.lister(dossier), brouillons=brouillons.lister(),
                               problemes=problemes), statut

    @app.get("/")
    def accueil():
        return page_accueil([])

    @app.post("/nouvelle")
    def nouvelle():
        ident = brouillons.creer(formulaire.initiales(q()))
        return redirect(adresse_etape(ident, etapes()[0]["id"]))

    @app.post("/reprendre")
    def reprendre():
        """Un fichier envoyé passe par yaml_lignes et reponses.valider, comme pour `dce generer`."""
        envoi = request.files.get("fichier")
        if envoi is None or not envoi.filename:
            return page_accueil([Probleme("choisir un fichier de réponses (.yaml) à envoyer")], 422)
        nom = Path(envoi.filename).name
        contenu = envoi.read(yaml_lignes.TAILLE_MAX + 1)
        try:
            if len(contenu) > yaml_lignes.TAILLE_MAX:
                raise ErreurDonnees(Probleme(f"fichier trop volumineux (au plus {yaml_lignes.TAILLE_MAX} octets)", nom))
            try:
                texte = contenu.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ErreurDonnees(Probleme(f"le fichier n'est pas encodé en UTF-8 (octet {exc.start})", nom)) from None
            document = yaml_lignes.lire_texte(texte, nom)
            if not isinstance(document.donnees, dict):
                reponses.valider(document, q())  # lève le message de la ligne de commande
        except ErreurDonnees as exc:
            return page_accueil(list(exc.problemes), 422)
        try:
            reponses.valider(document, q())
            problemes: list[Probleme] = []
        except ErreurDonnees as exc:
            problemes = list(exc.problemes)
        donnees = document.donnees
        for chemin in propositions.inconnus(racine, donnees):  # signalés ci-dessus, non repris
            formulaire.poser(donnees, chemin, None)
        ident = brouillons.creer(donnees)
        session[f"envoi-{ident}"] = [formulaire.message(p) for p in problemes]
        if problemes:
            flash(f"Fichier « {nom} » repris : {pluriel(problemes, 'problème')} à corriger, détaillés ci-dessous.", "alerte")
        else:
            flash(f"Fichier « {nom} » repris : il est complet et valide.", "succes")
        return redirect(url_for("recapitulatif", ident=ident))

    # --- saisie section par section -------------------------------------------------------------------

    def charger_brouillon(ident: str) -> dict[str, Any]:
        return charger_versionne(ident)[0]

    def charger_versionne(ident: str) -> tuple[dict[str, Any], int]:
        lu = brouillons.lire_versionne(ident)
        if lu is None:
            abort(404)
        return lu

    def version_envoyee() -> int | None:
        """Version du brouillon sur laquelle la page envoyée a été préparée (champ caché `_version`)."""
        texte = str(request.form.get("_version", ""))
        return int(texte) if texte.isdigit() else None

    def page_conflit(ident: str, section: str, actuelles: dict[str, Any], envoyees: dict[str, Any],
                     conflit: VersionDepassee):
        """Enregistrement refusé : un autre onglet a enregistré ce brouillon depuis l'affichage de la page."""
        perdues = [] if section == propositions.ETAPE else \
            formulaire.differences(q(), section, actuelles, envoyees, caches(ident))
        titre = next((e["titre"] for e in etapes() if e["id"] == section), "")
        return render_template("conflit.html", ident=ident, titre=titre, conflit=conflit, perdues=perdues,
                               recharger=adresse_etape(ident, section),
                               reference=actuelles.get("reference")), 409

    def ecrire_brouillon(ident: str, donnees: dict[str, Any], actuelles: dict[str, Any], section: str) -> Any:
        """Enregistre si la page envoyée montrait la dernière version ; sinon la page de conflit (rien d'écrit)."""
        try:
            brouillons.ecrire(ident, donnees, version_envoyee())
        except VersionDepassee as conflit:
            return page_conflit(ident, section, actuelles, donnees, conflit)
        return None

    def etape_courante(section: str) -> tuple[list[dict[str, Any]], int]:
        liste = etapes()
        rang = next((i for i, e in enumerate(liste) if e["id"] == section), None)
        if rang is None:
            abort(404)
        return liste, rang

    def page_section(ident: str, section: str, donnees: dict[str, Any], problemes: list[Probleme],
                     nouvelles: list[str] | None = None, statut: int = 200):
        liste_etapes, rang = etape_courante(section)
        de_la_section = [p for p in problemes if formulaire.section_du_champ(q(), p.champ) == section]
        champs = formulaire.champs(q(), section, donnees, de_la_section, caches(ident))
        complet = formulaire.avec_defauts(donnees, q())
        tranchees = [(question.libelle, module_saisie.afficher(question, formulaire.lire(complet, chemin)))
                     for chemin in decidees(ident)
                     if (question := q().question(chemin)) is not None and question.section == section]
        affiches = formulaire.chemins_affiches(champs)
        resume = [(formulaire.ancre(p.champ or "", affiches), formulaire.message(p)) for p in de_la_section]
        return render_template("section.html", ident=ident, etapes=liste_etapes, rang=rang, etape=liste_etapes[rang],
                               champs=champs, resume=resume, nouvelles=nouvelles or [],
                               conditionnelles=any(c.question.condition for c in champs),
                               reference=donnees.get("reference"), version=brouillons.version(ident),
                               tranchees=tranchees, suggestions=url_for("page_suggestions", ident=ident)), statut

    @app.get("/saisie/<ident>/")
    def saisie(ident: str):
        charger_brouillon(ident)
        return redirect(adresse_etape(ident, etapes()[0]["id"]))

    @app.get("/saisie/<ident>/<section>")
    def section(ident: str, section: str):
        donnees = charger_brouillon(ident)
        etape_courante(section)
        problemes = valider(donnees) if request.args.get("verifier") else []
        return page_section(ident, section, donnees, problemes)

    def apres_enregistrement(ident: str, section: str, action: str):
        """Redirection après un enregistrement réussi : étape voulue ou récapitulatif."""
        verbe, _, cible = action.partition(":")
        if verbe == "precedent":
            return redirect(adresse_etape(ident, suivante(section, -1) or section))
        if verbe == "aller" and cible in {e["id"] for e in etapes()}:
            return redirect(adresse_etape(ident, cible))
        if verbe == "suivant":
            return redirect(adresse_etape(ident, suivante(section)))
        return redirect(url_for("recapitulatif", ident=ident))

    @app.post("/saisie/<ident>/<section>")
    def enregistrer(ident: str, section: str):
        etape_courante(section)
        actuelles, version = charger_versionne(ident)
        donnees = formulaire.lire_formulaire(q(), section, request.form, actuelles, caches(ident))
        lue = version_envoyee()
        if lue is not None and lue != version:  # un autre onglet a enregistré : rien n'est écrit
            return page_conflit(ident, section, actuelles, donnees, VersionDepassee(lue, version))
        action = str(request.form.get("action", "suivant"))
        verbe, _, cible = action.partition(":")
        modifiees = donnees
        if verbe in ("ajouter", "supprimer"):
            modifiees = (formulaire.ajouter_element(q(), donnees, cible) if verbe == "ajouter"
                         else formulaire.retirer_element(donnees, cible))
            if modifiees is None:
                abort(400)
        # Supprimer un lot en erreur reste possible : on contrôle ce qui serait enregistré.
        problemes = valider(modifiees if verbe == "supprimer" else donnees)
        de_la_page = [p for p in problemes if formulaire.section_du_champ(q(), p.champ) == section]
        if any(p.nature == "invalide" for p in de_la_page):
            # Une valeur refusée (montant négatif, date impossible…) n'est jamais enregistrée, quel que soit le
            # bouton (étape du menu, ajout d'un lot…) : la page revient avec le message et tout ce qui a été tapé.
            return page_section(ident, section, modifiees if verbe == "supprimer" else donnees, problemes, statut=422)
        if verbe in ("ajouter", "supprimer"):
            refus = ecrire_brouillon(ident, modifiees, actuelles, section)
            if refus is not None:
                return refus
            if verbe == "ajouter":
                flash("Élément ajouté : compléter ses champs.", "succes")
                ancre = f"{cible}.{len(formulaire.lire(modifiees, cible)) - 1}"
            else:
                flash("Élément supprimé.", "succes")
                ancre = cible.rpartition(".")[0]
            return redirect(adresse_etape(ident, section, _anchor=formulaire.ident_html(ancre)))
        refus = ecrire_brouillon(ident, donnees, actuelles, section)
        if refus is not None:
            return refus
        if verbe == "actualiser":
            return redirect(adresse_etape(ident, section))
        if verbe == "suivant":
            affichees = set(str(request.form.get("_visibles", "")).split())
            vues = formulaire.visibilites(q(), donnees)
            nouvelles = [x.libelle for x in formulaire.questions_section(q(), section)
                         if x.condition and vues[x.id] and x.id not in affichees]
            if nouvelles or de_la_page:
                return page_section(ident, section, donnees, problemes, nouvelles, 422 if de_la_page else 200)
        return apres_enregistrement(ident, section, action)

    @app.post("/saisie/<ident>/<section>/conditions")
    def conditions(ident: str, section: str):
        """Visibilité des questions de la section d'après le formulaire en cours (affichage immédiat en JS)."""
        etape_courante(section)
        donnees = formulaire.lire_formulaire(q(), section, request.form, charger_brouillon(ident), caches(ident))
        vues = formulaire.visibilites(q(), donnees)
        return jsonify({x.id: vues[x.id] for x in formulaire.questions_section(q(), section)})

    @app.get("/cpv")
    def chercher_cpv():
        return codes_cpv(q())

    # --- suggestions du SPASER ------------------------------------------------------------------------

    def page_suggestions_rendue(ident: str, donnees: dict[str, Any], erreurs: dict[str, list[str]] | None = None,
                                saisies: dict[str, str] | None = None, statut: int = 200):
        liste_etapes, rang = etape_courante(propositions.ETAPE)
        prealables = valider(donnees)
        liste: list[propositions.Proposition] = []
        echec: list[str] = []
        if not prealables:
            try:
                liste = propositions.propositions(racine, donnees, session.get(f"decisions-{ident}", {}))
            except ErreurDCE as exc:
                echec = [str(p) for p in exc.problemes]
        for p in liste:
            p.erreurs = (erreurs or {}).get(p.id, [])
            if saisies and p.id in saisies:
                p.etat.justification = saisies[p.id]
        resume = [(f"s-{p.id}", f"{p.etat.suggestion.titre} : {m}") for p in liste for m in p.erreurs]
        liens = [(adresse, texte) for _, adresse, texte in liens_problemes(ident, prealables)]
        return render_template("suggestions.html", ident=ident, etapes=liste_etapes, rang=rang,
                               etape=liste_etapes[rang], propositions=liste, prealables=liens, echec=echec,
                               resume=resume, reference=donnees.get("reference"),
                               version=brouillons.version(ident)), statut

    @app.get("/saisie/<ident>/suggestions")
    def page_suggestions(ident: str):
        return page_suggestions_rendue(ident, charger_brouillon(ident))

    @app.post("/saisie/<ident>/suggestions")
    def enregistrer_suggestions(ident: str):
        donnees, version = charger_versionne(ident)
        actuelles = donnees
        lue = version_envoyee()
        if lue is not None and lue != version:
            return page_conflit(ident, propositions.ETAPE, donnees, donnees, VersionDepassee(lue, version))
        action = str(request.form.get("action", "suivant"))
        decisions = dict(session.get(f"decisions-{ident}", {}))
        erreurs: dict[str, list[str]] = {}
        saisies: dict[str, str] = {}
        revoir: str | None = None
        liste = [] if valider(donnees) else propositions.propositions(racine, donnees, decisions)
        for p in liste:
            s = p.etat.suggestion
            choix = {"oui": True, "non": False}.get(str(request.form.get(f"suggestion.{s.id}", "")))
            if choix is None:
                continue
            texte = " ".join(str(request.form.get(f"justification.{s.id}", "")).split())
            if not choix and not p.refus_possible:
                erreurs[s.id] = [f"refus impossible : {s.reference}"]
                continue
            if not choix and p.etat.obligatoire and s.justification:
                saisies[s.id] = texte
                if not texte:
                    erreurs[s.id] = [f"justification obligatoire pour refuser ({s.reference})"]
                    continue
                formulaire.poser(donnees, s.justification, texte)
            decisions[s.id] = choix
            if s.active:
                donnees = propositions.appliquer(racine, donnees, s, choix)
            if choix and s.revoir and revoir is None:
                revoir = s.revoir
        refus = ecrire_brouillon(ident, donnees, actuelles, propositions.ETAPE)
        if refus is not None:
            return refus
        session[f"decisions-{ident}"] = decisions
        if erreurs:
            return page_suggestions_rendue(ident, donnees, erreurs, saisies, 422)
        if revoir is not None:
            chemin = revoir.removesuffix(".+")
            if revoir.endswith(".+"):
                donnees = formulaire.ajouter_element(q(), donnees, chemin) or donnees
                brouillons.ecrire(ident, donnees)
                chemin = f"{chemin}.{len(formulaire.lire(donnees, chemin)) - 1}"
            flash("Suggestion retenue : modifier la réponse concernée, puis continuer.", "succes")
            return redirect(adresse_etape(ident, formulaire.section_du_champ(q(), chemin),
                                          _anchor=formulaire.ident_html(chemin)))
        return apres_enregistrement(ident, propositions.ETAPE, action)

    # --- récapitulatif, fichier de réponses, génération --------------------------------------------------

    def page_recapitulatif(ident: str, donnees: dict[str, Any], erreur_generation: list[str] | None = None,
                           statut: int = 200):
        problemes = valider(donnees)
        vues = formulaire.visibilites(q(), donnees)
        complet = formulaire.avec_defauts(donnees, q())
        sections = []
        for etape in etapes():
            if etape["id"] == propositions.ETAPE:
                continue
            liste = formulaire.champs(q(), etape["id"], donnees, [], justifications())
            sections.append({**etape, "champs": [c for c in liste if vues[c.question.id]]})
        par_section: dict[str, list[tuple[str, str]]] = {}
        for section, adresse, texte in liens_problemes(ident, problemes):
            par_section.setdefault(section, []).append((adresse, texte))
        retenues: list[propositions.Proposition] = []
        if not problemes:
            try:
                retenues = propositions.propositions(racine, donnees, session.get(f"decisions-{ident}", {}))
            except ErreurDCE:
                retenues = []
        return render_template("recapitulatif.html", ident=ident, sections=sections, complet=complet,
                               problemes=problemes, par_section=par_section, afficher=module_saisie.afficher,
                               lire=formulaire.lire, envoi=session.get(f"envoi-{ident}", []),
                               erreur_generation=erreur_generation or [], etapes=etapes(),
                               propositions=retenues, reference=donnees.get("reference"),
                               version=brouillons.version(ident)), statut

    @app.get("/saisie/<ident>/recapitulatif")
    def recapitulatif(ident: str):
        return page_recapitulatif(ident, charger_brouillon(ident))

    @app.get("/saisie/<ident>/reponses.yaml")
    def telecharger_brouillon(ident: str):
        donnees = charger_brouillon(ident)
        nom = nom_sur(str(donnees.get("reference") or "consultation"))
        return _fichier(propositions.texte_reponses(racine, donnees).encode("utf-8"), f"{nom}-reponses.yaml",
                        "application/yaml; charset=utf-8")

    @app.post("/saisie/<ident>/generer")
    def generer(ident: str):
        donnees, version = charger_versionne(ident)
        lue = version_envoyee()
        if lue is not None and lue != version:  # le récapitulatif affiché n'est plus celui des réponses
            flash(f"Les réponses ont été modifiées dans un autre onglet depuis l'affichage de ce récapitulatif "
                  f"(version {version}, la page montrait la version {lue}) : rien n'a été généré. Voici le "
                  "récapitulatif à jour ; le relire, puis générer.", "alerte")
            return redirect(url_for("recapitulatif", ident=ident))
        if valider(donnees):
            return page_recapitulatif(ident, donnees, statut=422)
        try:
            nom, rapport = consultations.generer(dossier, propositions.texte_reponses(racine, donnees),
                                                 str(donnees["reference"]), racine)
        except ErreurDCE as exc:
            return page_recapitulatif(ident, donnees, [str(p) for p in exc.problemes], 422)
        if rapport.erreur:
            return page_recapitulatif(ident, donnees, [rapport.erreur], 422)
        publication_web.copier_pieces(publication_web.dossier_pieces_brouillon(brouillons, ident),
                                      dossier / nom / publication_web.PIECES)  # pièces téléversées
        brouillons.supprimer(ident)  # la consultation fait foi ; « Modifier les réponses » rouvre une saisie
        shutil.rmtree(publication_web.dossier_pieces_brouillon(brouillons, ident), ignore_errors=True)
        for cle in (f"envoi-{ident}", f"decisions-{ident}"):
            session.pop(cle, None)
        if rapport.nouvelle_version:
            flash(f"DCE généré : version {rapport.nouvelle_version}.", "succes")
        else:
            flash(f"Documents inchangés : la version {rapport.version_precedente} reste en vigueur.", "succes")
        return redirect(url_for("consultation", nom=nom))

    @app.post("/saisie/<ident>/supprimer")
    def supprimer_brouillon(ident: str):
        charger_brouillon(ident)
        brouillons.supprimer(ident)
        shutil.rmtree(publication_web.dossier_pieces_brouillon(brouillons, ident), ignore_errors=True)
        flash("Saisie supprimée.", "succes")
        return redirect(url_for("accueil"))

    # --- une consultation du dossier -------------------------------------------------------------------

    def trouver(nom: str) -> consultations.Fiche:
        fiche = consultations.trouver(dossier, nom)
        if fiche is None:
            abort(404)
        return fiche

    @app.get("/consultation/<path:nom>")
    def consultation(nom: str):
        fiche = trouver(nom)
        return render_template("consultation.html", fiche=fiche, **_details(fiche, racine))

    @app.get("/consultation/<path:nom>/dce.zip")
    def telecharger_dce(nom: str):
        fiche = trouver(nom)
        enregistrees = (fiche.manifeste or {}).get("reponses")
        texte = propositions.texte_reponses(racine, enregistrees) if isinstance(enregistrees, dict) else None
        try:
            nom_zip, contenu = consultations.archive(fiche, texte)
        except ErreurDCE:
            abort(404)
        return _fichier(contenu, nom_zip, "application/zip")

    @app.get("/consultation/<path:nom>/reponses.yaml")
    def telecharger_reponses(nom: str):
        fiche = trouver(nom)
        contenu = (fiche.dossier / "reponses.yaml").read_bytes()
        return _fichier(contenu, f"{nom_sur(fiche.reference)}-reponses.yaml",
                        "application/yaml; charset=utf-8")

    @app.post("/consultation/<path:nom>/modifier")
    def modifier(nom: str):
        fiche = trouver(nom)
        try:
            donnees = yaml_lignes.lire(fiche.dossier / "reponses.yaml").donnees
        except ErreurDonnees as exc:
            flash("Fichier de réponses illisible : " + " ; ".join(str(p) for p in exc.problemes), "alerte")
            return redirect(url_for("consultation", nom=nom))
        ident = brouillons.creer(donnees if isinstance(donnees, dict) else {})
        publication_web.copier_pieces(fiche.dossier / publication_web.PIECES,
                                      publication_web.dossier_pieces_brouillon(brouillons, ident))
        return redirect(url_for("recapitulatif", ident=ident))

    publication_web.installer(app, dossier, racine, brouillons, q)  # publier, téléverser les pièces jointes
    return app


def _fichier(contenu: bytes, nom: str, type_mime: str) -> Response:
    reponse = Response(contenu, content_type=type_mime)
    reponse.headers["Content-Disposition"] = f'attachment; filename="{nom}"'
    return reponse


def _details(fiche: consultations.Fiche, racine: Path) -> dict[str, Any]:
    """Contrôles juridiques et explication (`dce expliquer`), recalculés depuis le fichier de réponses."""
    from ...pieces import annexe
    from ...droit import explication

    fichier = fiche.dossier / "reponses.yaml"
    details: dict[str, Any] = {"verdicts": [], "verdict_general": "", "explication": [], "problemes": [],
                               "documents": [], "reponses_modifiees": False, "clauses_a_valider": [], "defauts": []}
    if fiche.dossier_version is not None:
        details["documents"] = sorted(p.name for p in fiche.dossier_version.iterdir() if p.is_file())
        empreinte = ((fiche.manifeste or {}).get("entrees") or {}).get("reponses")
        details["reponses_modifiees"] = bool(empreinte) and fichier.is_file() and \
            empreinte != hashlib.sha256(fichier.read_bytes()).hexdigest()
    try:
        analyse = preparer(fichier, racine, consultations.date_droit(fiche))
        resultat = explication.expliquer(analyse, module_suggestions.charger(racine / "questionnaire.yaml"),
                                         controler(analyse))
    except ErreurDCE as exc:
        details["problemes"] = [str(p) for p in exc.problemes]
        return details
    details["verdicts"] = resultat.conformite.verdicts
    details["verdict_general"] = annexe.verdict_general(resultat.conformite)
    details["clauses_a_valider"] = explication.clauses_a_valider(analyse)
    details["defauts"] = resultat.conformite.defauts
    details["explication"] = _blocs_explication(explication.texte(resultat))
    return details


def _blocs_explication(texte: str) -> list[tuple[str, str]]:
    """Texte de `dce expliquer` en blocs (titre, corps) : chaque paragraphe s'ouvre sur son titre."""
    blocs = []
    for i, paragraphe in enumerate(texte.strip("\n").split("\n\n")):
        titre, _, corps = paragraphe.partition("\n")
        blocs.append(("", paragraphe) if i == 0 else (titre, corps))
    return blocs
