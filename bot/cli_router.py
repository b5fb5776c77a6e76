"""`helpline router train|eval`: build and measure the text -> queue router without a database.

scikit-learn is imported only inside the commands, so the rest of the CLI stays fast.
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from bot.config import Settings, load_settings
from bot.errors import HelplineError


def _settings(args) -> Settings:
    return load_settings(Path(args.config) if args.config else None)


def configured_model_path(settings: Settings) -> Path | None:
    """`router.model_path`, relative paths taken from desk.data_dir; None when not configured."""
    path = settings.router.model_path
    if path is None:
        return None
    return path if path.is_absolute() else settings.desk.data_dir / path


def build_router(settings: Settings, classifier=None):
    """The configured TicketRouter (rules + model) and the path of the model it uses."""
    from router.factory import create_router, find_model
    from router.hours import BusinessHours

    hours = settings.router.business_hours
    model_path = None
    if classifier is None:
        classifier, model_path = find_model(configured_model_path(settings), settings.desk.data_dir)
    router = create_router(
        queues=[q.name for q in settings.queues],
        triage_queue=settings.router.triage_queue or settings.desk.default_queue,
        confidence_threshold=settings.router.confidence_threshold,
        rules=[r.model_dump() for r in settings.router.rules],
        hours=BusinessHours.from_config(settings.desk.time_zone, hours.days, hours.start, hours.end, hours.holidays),
        classifier=classifier)
    return router, model_path


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k} {n}" for k, n in counter.most_common())


def cmd_router_train(args) -> int:
    from router.classifier import cross_validated_predictions, train
    from router.data import read_examples
    from router.errors import RouterError
    from router.evaluate import format_report, score
    from router.factory import trained_model_path
    from router.store import manifest_path, save_model

    settings = _settings(args)
    queues = [q.name for q in settings.queues]
    out = Path(args.out) if args.out else (configured_model_path(settings) or trained_model_path(settings.desk.data_dir))

    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    if not args.data and not args.from_history:
        raise HelplineError("give --data FILE.csv, --from-history, or both")
    try:
        base = Path(args.data) if args.data else None
        if base is None:
            from router.store import SHIPPED_EXAMPLES

            base = SHIPPED_EXAMPLES  # history alone is too little: start from the shipped examples
        print(f"reading {base}", file=sys.stderr, flush=True)
        examples = read_examples(base, queues)
        if args.from_history:
            learned = history_examples(settings, queues)
            print(f"  {len(learned) // HISTORY_WEIGHT} corrected routing decision(s) from the desk's history "
                  f"(each counted {HISTORY_WEIGHT} times)", file=sys.stderr, flush=True)
            examples += learned
        texts, labels = [e.text for e in examples], [e.queue for e in examples]
        if args.cv:
            print(f"{args.cv}-fold cross-validation", file=sys.stderr, flush=True)
            predicted = cross_validated_predictions(texts, labels, args.cv)
            report = score(labels, predicted, queues, [e.language for e in examples])
            print(f"{args.cv}-fold cross-validation on {args.data}:\n{format_report(report)}\n")
        print("training", file=sys.stderr, flush=True)
        started = time.perf_counter()
        classifier = train(texts, labels, progress)
        seconds = time.perf_counter() - started
        per_queue, languages = Counter(labels), Counter(e.language for e in examples)
        source = " + ".join(([str(args.data)] if args.data else [str(base)]) + (["desk history"] if args.from_history else []))
        save_model(classifier, out, examples=len(examples), source=source,
                   per_queue=dict(sorted(per_queue.items())), languages=dict(languages.most_common()))
    except (RouterError, ValueError) as exc:
        raise HelplineError(str(exc)) from None
    missing = [q for q in queues if q not in per_queue]
    print(f"trained on {len(examples)} examples in {seconds:.1f} s")
    print(f"  per queue: {_counts(per_queue)}")
    print(f"  languages: {_counts(languages)}")
    if missing:
        print(f"  no examples for the queue(s) {', '.join(missing)}: the model never chooses them")
    print(f"model written to {out} ({out.stat().st_size / 1e6:.1f} MB) with its manifest {manifest_path(out).name}")
    return 0


def history_examples(settings: Settings, queues: list[str]):
    """Labelled examples from the desk's corrections: transfers before the first reply, "wrong queue" marks.

    A correction repeats its example a few times, so one operator's correction outweighs the
    generic examples it contradicts without drowning the rest.
    """
    import asyncio

    from bot.cli import _with_desk
    from bot.storage.routing_queries import corrections
    from router.data import Example

    async def read(desk):
        async with desk.sessions() as s:
            return await corrections(s)

    found = asyncio.run(_with_desk(settings, read))
    return [Example(text, language or "", right) for _, _, right, _, text, language in found
            for _ in range(HISTORY_WEIGHT) if text.strip() and right in queues]


HISTORY_WEIGHT = 3


def cmd_router_eval(args) -> int:
    from router.data import read_examples
    from router.errors import RouterError
    from router.evaluate import format_report, score

    settings = _settings(args)
    queues = [q.name for q in settings.queues]
    try:
        now = datetime.fromisoformat(args.at) if args.at else None
    except ValueError:
        raise HelplineError(f"--at {args.at!r} is not an ISO date and time (e.g. 2026-11-23T10:30+02:00)") from None
    try:
        examples = read_examples(Path(args.data), queues)
        classifier = None
        if args.model:
            from router.store import load_model

            classifier = load_model(Path(args.model))
        router, model_path = build_router(settings, classifier)
    except RouterError as exc:
        raise HelplineError(str(exc)) from None
    started = time.perf_counter()
    decisions = [router.route(e.text, channel=args.channel or "", language=e.language, now=now) for e in examples]
    per_message_ms = (time.perf_counter() - started) * 1000 / len(examples)
    report = score([e.queue for e in examples], [d.queue for d in decisions], queues, [e.language for e in examples])
    by_rule = Counter(d.rule for d in decisions if d.rule)
    decided_by = {"rules": sum(by_rule.values()), "classifier": sum(1 for d in decisions if not d.rule and not d.triaged),
                  "triage": sum(1 for d in decisions if d.triaged)}
    if args.json:
        result = report.as_dict() | {"decided_by": decided_by, "rules": dict(by_rule),
                                     "model": str(args.model or model_path), "ms_per_message": round(per_message_ms, 3)}
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"router eval on {args.data} (model: {args.model or model_path})\n")
    print(format_report(report))
    print(f"\ndecided by rules: {decided_by['rules']}, by the classifier: {decided_by['classifier']}, "
          f"sent to triage ({router.triage_queue}, confidence < {router.threshold:.2f}): {decided_by['triage']}")
    if by_rule:
        print("rules that matched: " + _counts(by_rule))
    print(f"time per message: {per_message_ms:.3f} ms")
    return 0


def add_router_commands(sub) -> None:
    """Register `router train` and `router eval` on the top-level subparsers."""
    commands = sub.add_parser("router", help="train and measure the text -> queue router").add_subparsers(
        dest="router_command", required=True, metavar="ACTION")
    config_help = "TOML config file (default: the built-in demo configuration)"
    train = commands.add_parser("train", help="train the classifier from a labelled CSV (text,language,queue)")
    train.add_argument("--data", help="CSV file with the header text,language,queue (default with --from-history: the shipped examples)")
    train.add_argument("--from-history", action="store_true",
                       help="add the desk's corrections: transfers before the first reply and 'wrong queue' marks")
    train.add_argument("--config", help=config_help)
    train.add_argument("--out", help="where to write the model (default: router.model_path, else DATA_DIR/router/model.joblib)")
    train.add_argument("--cv", type=int, default=0, metavar="K", help="also report K-fold cross-validated scores")
    train.set_defaults(func=cmd_router_train)
    evaluate = commands.add_parser("eval", help="score the configured router (rules + model) on a labelled CSV")
    evaluate.add_argument("--data", required=True, help="CSV file with the header text,language,queue")
    evaluate.add_argument("--config", help=config_help)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    evaluate.add_argument("--model", help="evaluate this model file instead of the configured one")
    evaluate.add_argument("--channel", help="pretend every message came through this channel (for channel rules)")
    evaluate.add_argument("--at", help="pretend every message arrived at this ISO time (for business-hours rules)")
    evaluate.set_defaults(func=cmd_router_eval)
