"""`dce serveur` : l'assistant web local (questionnaire dans le navigateur, DCE en téléchargement)."""

from __future__ import annotations

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
@click.pass_context
def serveur(ctx: click.Context, port: int, hote: str, dossier: Path) -> None:
    """Ouvre l'assistant dans le navigateur : questionnaire, récapitulatif, génération et téléchargement du DCE."""
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
