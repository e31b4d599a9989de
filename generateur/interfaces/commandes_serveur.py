"""`dce serveur` : l'assistant web local (questionnaire dans le navigateur, DCE en téléchargement) ; avec
`--equipe`, le serveur d'équipe (comptes, rôles, base de données) servi par waitress, à plusieurs fils."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .groupe import main
from ..erreurs import ErreurDCE, Probleme


@main.command("serveur")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port d'écoute (0 : un port libre).")
@click.option("--hote", default="127.0.0.1", show_default=True,
              help="Adresse d'écoute. Par défaut la machine seule : aucune donnée ne sort de l'ordinateur.")
@click.option("--consultations", "dossier", type=click.Path(file_okay=False, path_type=Path),
              default=Path("consultations"), show_default=True,
              help="Dossier des consultations (un sous-dossier par consultation, comme pour `dce regenerer`).")
@click.option("--equipe", is_flag=True,
              help="Serveur d'équipe : comptes, rôles, services, base de données, visa juridique, journal d'audit.")
@click.option("--base", "url", envvar="DCE_BASE", default="sqlite:///equipe/dce.sqlite", show_default=True,
              help="Avec --equipe : adresse de la base (sqlite:///chemin ou postgresql://utilisateur@hote/base).")
@click.option("--stockage", type=click.Path(file_okay=False, path_type=Path), default=Path("equipe"),
              show_default=True, help="Avec --equipe : dossier des pièces produites et de la clé des sessions.")
@click.option("--https", is_flag=True,
              help="Avec --equipe : derrière un mandataire inverse HTTPS (cookies sécurisés, en-têtes X-Forwarded-*).")
@click.option("--fils", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Avec --equipe : requêtes servies en parallèle.")
@click.pass_context
def serveur(ctx: click.Context, port: int, hote: str, dossier: Path, equipe: bool, url: str, stockage: Path,
            https: bool, fils: int) -> None:
    """Ouvre l'assistant dans le navigateur : questionnaire, récapitulatif, génération et téléchargement du DCE."""
    if equipe:
        _serveur_equipe(ctx.obj["racine"], hote, port, url, stockage, https, fils)
        return
    from werkzeug.serving import make_server

    from .web import HOTES_LOCAUX, create_app

    app = create_app(ctx.obj["racine"], dossier, hote=hote)
    try:
        serveur_http = make_server(hote, port, app, threaded=True)
    except OSError as exc:
        raise ErreurDCE(Probleme(f"impossible d'écouter sur {hote}:{port} ({exc.strerror or exc}) ; "
                                 "choisir un autre port avec --port")) from None
    adresse = f"http://{'[' + hote + ']' if ':' in hote else hote}:{serveur_http.server_port}/"
    click.echo(f"Assistant dce ouvert à l'adresse {adresse}")
    click.echo(f"Consultations : {dossier.resolve()}")
    if hote not in HOTES_LOCAUX:
        click.secho(f"Attention : le serveur écoute sur {hote}, il est joignable depuis le réseau.", fg="yellow", err=True)
    click.echo("Arrêter : Ctrl+C.")
    try:
        serveur_http.serve_forever()
    except KeyboardInterrupt:
        click.echo("\nAssistant arrêté.")
    finally:
        serveur_http.server_close()


def _serveur_equipe(racine: Path | None, hote: str, port: int, url: str, stockage: Path, https: bool, fils: int) -> None:
    """Serveur WSGI de production (waitress, Windows comme Linux) ; base migrée au démarrage."""
    from ..base import connexion

    connexion.exiger_option(url)
    from waitress.server import create_server

    from .web.equipe import create_app_equipe

    app = create_app_equipe(racine, url, stockage, https=https)
    try:
        serveur_http = create_server(app, host=hote, port=port, threads=fils)
    except OSError as exc:
        raise ErreurDCE(Probleme(f"impossible d'écouter sur {hote}:{port} ({exc.strerror or exc}) ; "
                                 "choisir un autre port avec --port")) from None
    adresse = f"http://{'[' + hote + ']' if ':' in hote else hote}:{serveur_http.effective_port}/"
    click.echo(f"Serveur d'équipe dce ouvert à l'adresse {adresse}", nl=True)
    click.echo(f"Base : {url} ; pièces : {stockage.resolve()} ; {fils} fils")
    sys.stdout.flush()
    try:
        serveur_http.run()
    except KeyboardInterrupt:
        click.echo("\nServeur arrêté.")
    finally:
        serveur_http.close()
