"""Serveur d'équipe (`dce serveur --equipe`) : le questionnaire pour toute une direction des achats.

Comptes et rôles (acheteur, juriste, administrateur), consultations rangées par service dans une base de données
(`generateur/base/`), enregistrement sous verrou optimiste, historique et différences, génération, visa juridique,
publication, journal d'audit. Les pages de saisie reprennent les champs de l'assistant local (`_champs.html`,
`formulaire.py`) ; les gabarits propres au mode équipe sont dans `templates/equipe/`.

Les fichiers que désignent les réponses (texte technique du CCTP d'un lot, pièces jointes par l'acheteur) se
téléversent depuis la fiche de la consultation et sont gardés dans la base (`base/fichiers.py`) : taille et types
limités (`Limites`, réglables par l'environnement), mêmes règles de chemin qu'en local.
"""

from __future__ import annotations

import copy
import os
import secrets
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, flash, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from ...base import connexion
from ...donnees import catalogue, questionnaire as module_questionnaire, yaml_lignes
from ...donnees.fichiers import nom_sur
from ...erreurs import ErreurDCE, ErreurDonnees, Probleme
from . import codes_cpv, configurer_gabarits, consultations, entetes, formulaire, jeton, propositions, verifier_jeton
from .publication_web import nom_televerse

DUREE_SESSION = 8 * 3600  # une journée de travail, puis nouvelle connexion
INACTIVITE = 3600  # une heure sans requête : session close
TAILLE_MAX_ENVOI = 2 * 1024 * 1024
ROLES = {"acheteur": "Acheteur", "juriste": "Juriste", "administrateur": "Administrateur"}
PUBLIQUES = {"connexion", "static"}


def _cle_secrete(dossier: Path) -> bytes:
    """Clé de signature des sessions, gardée dans le dossier de stockage (droits 600) : un redémarrage ne
    déconnecte personne ; la supprimer déconnecte tout le monde."""
    chemin = dossier / "cle-secrete"
    if not chemin.is_file():
        dossier.mkdir(parents=True, exist_ok=True)
        descripteur = os.open(chemin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descripteur, "wb") as fichier:
            fichier.write(secrets.token_bytes(32))
    return chemin.read_bytes()


def create_app_equipe(racine: Path | None, url_base: str, stockage: Path, *, https: bool = False,
                      limites: Any = None) -> Flask:
    """Application du serveur d'équipe sur la base `url_base` (migrée à la dernière version) ; fichiers produits
    dans `stockage`. `https` : derrière un mandataire inverse HTTPS (cookies « Secure », en-têtes X-Forwarded-*).
    `limites` : taille et types des fichiers joints (`base.fichiers.Limites`) ; par défaut, ceux de l'environnement."""
    connexion.exiger_option(url_base)
    from sqlalchemy.orm import sessionmaker
    from werkzeug.middleware.proxy_fix import ProxyFix

    from ...base import comptes, dce as module_dce, depot, fichiers, journal

    limites = limites or fichiers.Limites.depuis_environnement()

    racine = catalogue.resoudre_racine(racine)
    stockage = Path(stockage).resolve()
    moteur = connexion.ouvrir(url_base)
    connexion.migrer(moteur)
    fabrique = sessionmaker(moteur, expire_on_commit=False)
    depot_fichiers = module_dce.Stockage(stockage / "pieces")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=_cle_secrete(stockage), MAX_CONTENT_LENGTH=TAILLE_MAX_ENVOI, MAX_FORM_MEMORY_SIZE=TAILLE_MAX_ENVOI,
        MAX_FORM_PARTS=20000, SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=https, SESSION_COOKIE_NAME="__Host-dce" if https else "dce-equipe",
        PERMANENT_SESSION_LIFETIME=DUREE_SESSION)
    if https:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.extensions["dce_moteur"] = moteur
    configurer_gabarits(app)
    app.jinja_env.filters["octets"] = fichiers.taille_lisible
    q = module_questionnaire.charger(racine / "questionnaire.yaml")
    # Pas d'étape des suggestions en mode équipe : les justifications qu'elle demande au refus d'une option imposée
    # par la loi se saisissent dans leur propre section du questionnaire, qui n'est donc pas cachée.
    caches: frozenset[str] = frozenset()
    sections = [{"id": str(s["id"]), "titre": str(s["titre"]), "aide": str(s.get("aide", ""))} for s in q.sections
                if any(x.id not in caches for x in formulaire.questions_section(q, str(s["id"])))]

    def libelle(chemin: str) -> str:
        """« lots.1.intitule » → « Intitulé du lot (élément 2 de « Lots ») » : les mots du questionnaire."""
        parties = chemin.split(".")
        sans_rangs = ".".join(p for p in parties if not p.isdigit())
        question = q.question(sans_rangs)
        texte = question.libelle if question is not None else sans_rangs
        rangs = [int(p) + 1 for p in parties if p.isdigit()]
        if rangs:
            parent = q.question(parties[0])
            texte += f" ({parent.libelle if parent else parties[0]} n° {'.'.join(map(str, rangs))})"
        return texte

    def problemes(donnees: dict[str, Any]) -> list[Probleme]:
        try:
            sortie = propositions.assistant(racine, donnees).sortie()
        except (ErreurDCE, ValueError, TypeError):
            sortie = donnees
        return formulaire.valider(q, sortie)

    # --- session, connexion, sécurité ----------------------------------------------------------------------

    @app.url_value_preprocessor
    def limite_televersement(endpoint: str | None, _valeurs: Any) -> None:
        # avant la lecture du formulaire (jeton CSRF) : un fichier joint peut peser plus qu'un fichier de réponses
        if endpoint == "deposer_fichier":
            request.max_content_length = limites.taille_max + 1024 * 1024

    app.before_request(verifier_jeton)

    @app.before_request
    def ouvrir_session() -> Any:
        g.s = fabrique()
        g.u = None
        uid = session.get("uid")
        if uid is not None:
            heure = time.time()
            if heure - session.get("debut", 0) > DUREE_SESSION or heure - session.get("vu", 0) > INACTIVITE:
                session.clear()
                flash("Session expirée : se reconnecter.", "alerte")
            else:
                utilisateur = g.s.get(comptes.Utilisateur, uid)
                if utilisateur is None or not utilisateur.actif:
                    session.clear()
                else:
                    g.u = utilisateur
                    session["vu"] = heure
        if g.u is None and request.endpoint not in PUBLIQUES:
            if request.method == "GET":
                return redirect(url_for("connexion", suite=request.full_path.rstrip("?")))
            abort(401)
        return None

    @app.after_request
    def valider_transaction(reponse: Response) -> Response:
        if reponse.status_code < 500 and g.get("s") is not None:
            g.s.commit()
        return entetes(reponse)

    @app.teardown_request
    def fermer_session(_exc: BaseException | None) -> None:
        s = g.pop("s", None)
        if s is not None:
            s.rollback()
            s.close()

    @app.context_processor
    def globales() -> dict[str, Any]:
        return {"csrf": jeton, "moi": g.get("u"), "roles": ROLES}

    @app.errorhandler(HTTPException)
    def erreur_http(exc: HTTPException):
        messages = {401: "Connexion requise.", 403: "Cette page est réservée à un autre rôle.",
                    404: "Page introuvable : cette consultation n'existe pas ou n'est pas visible de votre service.",
                    413: f"Fichier trop volumineux : au plus {fichiers.taille_lisible(limites.taille_max)} par fichier joint."
                    if request.endpoint == "deposer_fichier" else "Envoi trop volumineux : au plus 2 Mo."}
        message = exc.description if exc.code == 400 and str(exc.description).startswith("Jeton") else \
            messages.get(exc.code or 0, f"Erreur {exc.code}.")
        return render_template("erreur.html", message=message, code=exc.code, gabarit_base="equipe/base.html"), exc.code

    def exiger(*roles: str) -> None:
        if g.u.role not in roles:
            abort(403)

    def connexion_page():
        suite = str(request.values.get("suite") or "")
        if not suite.startswith("/") or suite.startswith("//") or "\\" in suite:  # jamais vers un autre site
            suite = url_for("accueil")
        if request.method == "GET":
            return render_template("equipe/connexion.html", suite=suite, erreur=None)
        try:
            utilisateur = comptes.authentifier(g.s, str(request.form.get("identifiant", "")),
                                               str(request.form.get("mot_de_passe", "")), request.remote_addr or "")
        except comptes.ConnexionRefusee as exc:
            return render_template("equipe/connexion.html", suite=suite, erreur=str(exc.problemes[0])), 401
        session.clear()  # nouvelle session à la connexion : pas de fixation de session
        session.permanent = True
        session.update(uid=utilisateur.id, debut=time.time(), vu=time.time(), csrf=secrets.token_urlsafe(32))
        return redirect(suite)

    app.add_url_rule("/connexion", endpoint="connexion", view_func=connexion_page, methods=["GET", "POST"])

    @app.post("/deconnexion")
    def deconnexion():
        journal.noter(g.s, g.u.identifiant, "deconnexion")
        session.clear()
        flash("Vous êtes déconnecté.", "succes")
        return redirect(url_for("connexion"))

    # --- consultations -----------------------------------------------------------------------------------

    def lire(ident: int) -> Any:
        try:
            return depot.lire(g.s, g.u, ident)
        except depot.Introuvable:
            abort(404)

    @app.get("/cpv")
    def chercher_cpv():
        return codes_cpv(q)

    @app.get("/")
    def accueil():
        return render_template("equipe/accueil.html", consultations=depot.lister(g.s, g.u),
                               services=comptes.services(g.s), problemes=[])

    def service_choisi() -> int | None:
        brut = str(request.form.get("service", ""))
        return int(brut) if brut.isdigit() else None

    @app.post("/nouvelle")
    def nouvelle():
        try:
            c = depot.creer(g.s, g.u, formulaire.initiales(q), service_choisi())
        except ErreurDCE as exc:
            flash(str(exc.problemes[0]), "alerte")
            return redirect(url_for("accueil"))
        return redirect(url_for("section", ident=c.id, section=sections[0]["id"]))

    @app.post("/reprendre")
    def reprendre():
        """Fichier de réponses envoyé : lu comme par `dce generer`, repris dans une nouvelle consultation."""
        envoi = request.files.get("fichier")
        erreurs: list[str] = []
        donnees: Any = None
        if envoi is None or not envoi.filename:
            erreurs = ["choisir un fichier de réponses (.yaml) à envoyer"]
        else:
            nom = Path(envoi.filename).name
            try:
                texte = envoi.read(yaml_lignes.TAILLE_MAX + 1).decode("utf-8")
                donnees = yaml_lignes.lire_texte(texte, nom).donnees
                if not isinstance(donnees, dict):
                    erreurs = [f"{nom} : le fichier ne contient pas de réponses (« question: réponse »)"]
            except UnicodeDecodeError:
                erreurs = [f"{nom} : le fichier n'est pas encodé en UTF-8"]
            except ErreurDonnees as exc:
                erreurs = [str(p) for p in exc.problemes]
        if erreurs:
            return render_template("equipe/accueil.html", consultations=depot.lister(g.s, g.u),
                                   services=comptes.services(g.s), problemes=erreurs), 422
        for chemin in propositions.inconnus(racine, donnees):
            formulaire.poser(donnees, chemin, None)
        try:
            c = depot.creer(g.s, g.u, donnees, service_choisi(), action="import")
        except ErreurDCE as exc:
            flash(str(exc.problemes[0]), "alerte")
            return redirect(url_for("accueil"))
        flash("Fichier repris dans une nouvelle consultation.", "succes")
        n = len(fichiers.manquants(g.s, c))
        if n:
            flash(f"Les réponses désignent {n} fichier{'s' if n > 1 else ''} (texte technique du CCTP, pièces jointes) "
                  "à téléverser dans « Fichiers joints ».", "alerte")
        return redirect(url_for("fiche", ident=c.id))

    def liens_problemes(c: Any) -> list[tuple[str, str]]:
        """(adresse du champ en erreur dans sa page de saisie, message) ; adresse vide hors des sections. Un texte
        technique du CCTP désigné mais pas téléversé empêche aussi de générer : le lien mène aux fichiers joints."""
        liens = []
        for p in problemes(c.reponses):
            section_du_champ = formulaire.section_du_champ(q, p.champ)
            adresse = url_for("section", ident=c.id, section=section_du_champ, verifier=1,
                              _anchor=formulaire.ident_html(p.champ or "")) if section_du_champ else ""
            liens.append((adresse, formulaire.message(p)))
        for d in fichiers.manquants(g.s, c):
            if d.texte_technique:
                liens.append((url_for("fiche", ident=c.id, _anchor="fichiers"),
                              f"{d.quoi} : fichier « {d.nom} » à téléverser dans les fichiers joints"))
        return liens

    def peut_deposer() -> bool:
        """Droits du rôle : l'acheteur (de son service) et l'administrateur déposent ; le juriste consulte."""
        return g.u.role in ("acheteur", "administrateur")

    def natures() -> dict[str, str]:
        nature = q.question("pieces_acheteur.nature")
        return dict(nature.choix or {}) if nature else {}

    def page_fiche(c: Any, statut: int = 200, refus: str = "", refus_fichier: list[str] | None = None):
        gens = module_dce.generations(g.s, c)
        derniere = gens[0] if gens else None
        visas = module_dce.visas_clauses(g.s)
        ranges = {f.nom: f for f in fichiers.lister(g.s, c)}
        designes = fichiers.designes(c.reponses)
        cles = {d.nom: fichiers.cle(d.nom) for d in designes}
        return render_template(
            "equipe/fiche.html", c=c, sections=sections, problemes=liens_problemes(c),
            joints=[(d, ranges.get(cles[d.nom])) for d in designes],
            autres=[f for nom, f in ranges.items() if nom not in set(cles.values())],
            refus_fichier=refus_fichier or [], peut_deposer=peut_deposer(), limites=limites, natures=natures(),
            lots=[(i, l) for i, l in enumerate(c.reponses.get("lots") or []) if isinstance(l, dict)],
            generations=gens, derniere=derniere, visas=visas, refus=refus,
            controles=consultations.statut_conformite({"conformite": derniere.conformite}) if derniere else None,
            visa=module_dce.visa_consultation(g.s, c, c.numero_version),
            non_validees=module_dce.non_validees(g.s, derniere) if derniere else [],
            publiee=module_dce.publiee(g.s, c)), statut

    @app.get("/c/<int:ident>")
    def fiche(ident: int):
        return page_fiche(lire(ident))

    def page_section(c: Any, section: str, donnees: dict[str, Any], version: int, conflit: Any = None,
                     statut: int = 200):
        rang = next((i for i, e in enumerate(sections) if e["id"] == section), None)
        if rang is None:
            abort(404)
        erreurs = [p for p in problemes(donnees) if formulaire.section_du_champ(q, p.champ) == section] \
            if request.args.get("verifier") else []
        champs = formulaire.champs(q, section, donnees, erreurs, caches)
        return render_template("equipe/section.html", c=c, sections=sections, rang=rang, etape=sections[rang],
                               champs=champs, version=version, conflit=conflit,
                               resume=[formulaire.message(p) for p in erreurs]), statut

    @app.get("/c/<int:ident>/section/<section>")
    def section(ident: int, section: str):
        c = lire(ident)
        return page_section(c, section, c.reponses, c.numero_version)

    @app.post("/c/<int:ident>/section/<section>")
    def enregistrer(ident: int, section: str):
        c = lire(ident)
        if section not in {e["id"] for e in sections}:
            abort(404)
        try:
            version_lue = int(str(request.form.get("_version", "")))
        except ValueError:
            abort(400)
        donnees = formulaire.lire_formulaire(q, section, request.form, c.reponses, caches)
        verbe, _, cible = str(request.form.get("action", "suivant")).partition(":")
        if verbe in ("ajouter", "supprimer"):
            modifiees = (formulaire.ajouter_element(q, donnees, cible) if verbe == "ajouter"
                         else formulaire.retirer_element(donnees, cible))
            if modifiees is None:
                abort(400)
            donnees = modifiees
        try:
            depot.enregistrer(g.s, g.u, c, donnees, version_lue, libelle)
        except depot.Conflit as exc:
            g.s.rollback()
            c = lire(ident)
            return page_section(c, section, donnees, c.numero_version, exc, 409)
        if verbe in ("ajouter", "supprimer", "rester"):
            return redirect(url_for("section", ident=ident, section=section))
        ids = [e["id"] for e in sections]
        rang = ids.index(section) + (-1 if verbe == "precedent" else 1)
        if verbe == "aller" and cible in ids:
            return redirect(url_for("section", ident=ident, section=cible))
        if verbe in ("suivant", "precedent") and 0 <= rang < len(ids):
            return redirect(url_for("section", ident=ident, section=ids[rang]))
        flash(f"Réponses enregistrées : version {c.numero_version}.", "succes")
        return redirect(url_for("fiche", ident=ident))

    @app.post("/c/<int:ident>/generer")
    def generer(ident: int):
        c = lire(ident)
        if problemes(c.reponses):
            flash("Le DCE ne peut pas être généré : corriger d'abord les problèmes listés.", "alerte")
            return page_fiche(c, 422)
        try:
            generation = module_dce.generer(g.s, depot_fichiers, c, g.u, propositions.texte_reponses(racine, c.reponses),
                                            racine)
        except ErreurDCE as exc:
            return page_fiche(c, 422, "; ".join(str(p) for p in exc.problemes))
        flash(f"DCE généré depuis la version {generation.numero_reponses} des réponses.", "succes")
        return redirect(url_for("fiche", ident=ident))

    @app.post("/c/<int:ident>/publier")
    def publier(ident: int):
        c = lire(ident)
        try:
            module_dce.publier(g.s, depot_fichiers, c, g.u, propositions.texte_reponses(racine, c.reponses), racine)
        except module_dce.PublicationRefusee as exc:
            return page_fiche(c, 409, str(exc.problemes[0]))
        except ErreurDCE as exc:
            return page_fiche(c, 422, "; ".join(str(p) for p in exc.problemes))
        flash("Consultation publiée : le DCE publié est le dernier de la liste.", "succes")
        return redirect(url_for("fiche", ident=ident))

    @app.post("/c/<int:ident>/viser")
    def viser(ident: int):
        exiger("juriste")
        c = lire(ident)
        module_dce.viser_consultation(g.s, g.u, c, str(request.form.get("commentaire", "")))
        flash(f"Visa donné sur la version {c.numero_version} des réponses.", "succes")
        return redirect(url_for("fiche", ident=ident))

    @app.post("/c/<int:ident>/dupliquer")
    def dupliquer(ident: int):
        copie = depot.dupliquer(g.s, g.u, lire(ident))  # avec ses fichiers joints
        flash("Consultation dupliquée : voici la copie.", "succes")
        return redirect(url_for("fiche", ident=copie.id))

    @app.get("/c/<int:ident>/historique")
    def historique(ident: int):
        c = lire(ident)
        versions = depot.historique(g.s, c)
        changements = None
        de, a = request.args.get("de", type=int), request.args.get("a", type=int)
        if de is not None and a is not None:
            v1, v2 = depot.version(g.s, c, de), depot.version(g.s, c, a)
            if v1 is None or v2 is None:
                abort(404)
            changements = depot.differences(v1.reponses, v2.reponses, libelle)
        return render_template("equipe/historique.html", c=c, versions=versions, de=de, a=a, changements=changements)

    @app.get("/c/<int:ident>/dce/<int:generation>/<nom>")
    def piece(ident: int, generation: int, nom: str):
        c = lire(ident)
        gen = g.s.get(module_dce.Generation, generation)
        if gen is None or gen.consultation_id != c.id:
            abort(404)
        trouvee = next((p for p in gen.pieces if p.nom == nom), None)
        if trouvee is None:
            abort(404)
        reponse = Response(depot_fichiers.lire(trouvee), content_type="application/octet-stream")
        reponse.headers["Content-Disposition"] = f'attachment; filename="{nom_sur(Path(nom).stem)}{Path(nom).suffix}"'
        return reponse

    # --- fichiers joints : texte technique du CCTP, pièces jointes par l'acheteur --------------------------

    def version_du_formulaire() -> int:
        try:
            return int(str(request.form.get("_version", "")))
        except ValueError:
            abort(400)

    @app.post("/c/<int:ident>/fichiers")
    def deposer_fichier(ident: int):
        """Téléverse un fichier : pour un chemin que désignent déjà les réponses (« chemin »), comme nouvelle pièce
        jointe (« piece » : titre, nature, lot) ou comme texte technique du CCTP d'un lot (« cctp »)."""
        c = lire(ident)
        if not peut_deposer():
            abort(403)
        version_lue = version_du_formulaire()
        usage = str(request.form.get("usage", ""))
        envoi = request.files.get("fichier")
        erreurs: list[str] = []
        if envoi is None or not envoi.filename:
            erreurs.append("Fichier : choisir le fichier à téléverser.")
        donnees: dict[str, Any] | None = None
        nom = ""
        deja = {f.nom for f in fichiers.lister(g.s, c)}
        if usage == "chemin":
            nom = str(request.form.get("chemin", ""))
        elif usage == "piece":
            titre = " ".join(str(request.form.get("titre", "")).split())
            nature = str(request.form.get("nature", ""))
            lot = str(request.form.get("lot", "")).strip()
            if not titre:
                erreurs.append("Titre de la pièce : réponse obligatoire.")
            if nature not in natures():
                erreurs.append("Nature de la pièce : choisir l'une des natures proposées.")
            if lot and not (lot.isdigit() and 1 <= int(lot) <= 999):
                erreurs.append("Lot concerné : un numéro de lot entre 1 et 999, ou vide.")
            if not erreurs:
                nom = "pieces/" + nom_televerse(str(envoi.filename), {n.removeprefix("pieces/") for n in deja})
                element: dict[str, Any] = {"titre": titre, "fichier": nom, "nature": nature}
                if lot:
                    element["lot"] = int(lot)
                donnees = copy.deepcopy(c.reponses)
                donnees["pieces_acheteur"] = [*(donnees.get("pieces_acheteur") or []), element]
        elif usage == "cctp":
            rang = str(request.form.get("lot_cctp", ""))
            lots = c.reponses.get("lots") or []
            if not rang.isdigit() or int(rang) >= len(lots) or not isinstance(lots[int(rang)], dict):
                erreurs.append("Lot : choisir le lot dont c'est le texte technique.")
            elif not erreurs:
                nom = "cctp/" + nom_televerse(str(envoi.filename), {n.removeprefix("cctp/") for n in deja})
                donnees = copy.deepcopy(c.reponses)
                donnees["lots"][int(rang)]["cctp_technique"] = nom
        else:
            abort(400)
        if not erreurs:
            contenu = envoi.read(limites.taille_max + 1)
            try:
                fichiers.deposer(g.s, g.u, c, nom, contenu, limites, version_lue, libelle, donnees)
            except depot.Conflit as exc:
                g.s.rollback()
                return page_fiche(lire(ident), 409, refus_fichier=[str(exc.problemes[0])])
            except ErreurDCE as exc:
                g.s.rollback()
                return page_fiche(lire(ident), 422, refus_fichier=[str(p) for p in exc.problemes])
        if erreurs:
            return page_fiche(c, 422, refus_fichier=erreurs)
        flash(f"Fichier « {fichiers.normaliser(nom)} » téléversé : réponses en version {c.numero_version}.", "succes")
        return redirect(url_for("fiche", ident=ident, _anchor="fichiers"))

    @app.post("/c/<int:ident>/fichiers/retirer")
    def retirer_fichier(ident: int):
        c = lire(ident)
        if not peut_deposer():
            abort(403)
        nom = str(request.form.get("nom", ""))
        try:
            fichiers.retirer(g.s, g.u, c, nom, version_du_formulaire(), libelle)
        except ErreurDCE as exc:
            g.s.rollback()
            return page_fiche(lire(ident), 409 if isinstance(exc, depot.Conflit) else 422,
                              refus_fichier=[str(exc.problemes[0])])
        flash(f"Fichier « {nom} » retiré : réponses en version {c.numero_version}.", "succes")
        return redirect(url_for("fiche", ident=ident, _anchor="fichiers"))

    @app.get("/c/<int:ident>/fichiers/<path:nom>")
    def fichier_joint(ident: int, nom: str):
        c = lire(ident)
        trouve = fichiers.trouver(g.s, c, nom)
        if trouve is None:
            abort(404)
        chemin = Path(trouve.nom)
        reponse = Response(trouve.contenu, content_type="application/octet-stream")
        reponse.headers["Content-Disposition"] = f'attachment; filename="{nom_sur(chemin.stem)}{chemin.suffix}"'
        return reponse

    @app.get("/c/<int:ident>/reponses.yaml")
    def reponses_yaml(ident: int):
        c = lire(ident)
        reponse = Response(propositions.texte_reponses(racine, c.reponses).encode("utf-8"),
                           content_type="application/yaml; charset=utf-8")
        reponse.headers["Content-Disposition"] = \
            f'attachment; filename="{nom_sur(c.reference or "consultation")}-reponses.yaml"'
        return reponse

    # --- juriste : clauses à valider ---------------------------------------------------------------------

    @app.get("/clauses")
    def clauses():
        return render_template("equipe/clauses.html", clauses=module_dce.clauses_du_catalogue(racine),
                               visas=module_dce.visas_clauses(g.s))

    @app.post("/clauses")
    def valider_clause():
        exiger("juriste")
        try:
            module_dce.valider_clause(g.s, g.u, str(request.form.get("clause", "")), str(request.form.get("version", "")),
                                      str(request.form.get("commentaire", "")), racine)
        except ErreurDCE as exc:
            flash(str(exc.problemes[0]), "alerte")
            return redirect(url_for("clauses"))
        flash("Clause validée.", "succes")
        return redirect(url_for("clauses"))

    # --- administration ----------------------------------------------------------------------------------

    @app.get("/admin")
    def admin():
        exiger("administrateur")
        return render_template("equipe/admin.html", utilisateurs=comptes.lister(g.s), services=comptes.services(g.s),
                               problemes=[])

    @app.post("/admin/utilisateurs")
    def ajouter_utilisateur():
        exiger("administrateur")
        f = request.form
        try:
            comptes.ajouter(g.s, str(f.get("identifiant", "")), str(f.get("nom", "")), str(f.get("role", "")),
                            str(f.get("mot_de_passe", "")), str(f.get("service", "")) or None, g.u.identifiant)
        except ErreurDCE as exc:
            g.s.rollback()
            return render_template("equipe/admin.html", utilisateurs=comptes.lister(g.s),
                                   services=comptes.services(g.s), problemes=[str(p) for p in exc.problemes]), 422
        flash("Utilisateur ajouté.", "succes")
        return redirect(url_for("admin"))

    @app.post("/admin/utilisateurs/<identifiant>/desactiver")
    def desactiver(identifiant: str):
        exiger("administrateur")
        try:
            comptes.desactiver(g.s, identifiant, g.u.identifiant)
            flash(f"Compte « {identifiant} » désactivé.", "succes")
        except ErreurDCE as exc:
            flash(str(exc.problemes[0]), "alerte")
        return redirect(url_for("admin"))

    @app.post("/admin/services")
    def ajouter_service():
        exiger("administrateur")
        nom = " ".join(str(request.form.get("nom", "")).split())
        if nom:
            comptes.service(g.s, nom, g.u.identifiant, creer=True)
            flash(f"Service « {nom} » enregistré.", "succes")
        return redirect(url_for("admin"))

    @app.get("/admin/journal")
    def journal_page():
        exiger("administrateur")
        return render_template("equipe/journal.html", lignes=journal.lister(g.s), actions=journal.ACTIONS)

    @app.get("/admin/journal.csv")
    def journal_csv():
        exiger("administrateur")
        reponse = Response(journal.exporter_csv(g.s), content_type="text/csv; charset=utf-8")
        reponse.headers["Content-Disposition"] = 'attachment; filename="journal-dce.csv"'
        return reponse

    return app
