"""Label a project through the API with a token, as a script or a tool does instead of the
labeling page (docs/api.md, "Skips and undo", maps the page's keys onto the API).

    python docs/examples/label_with_api.py --url http://127.0.0.1:8000 --project 1 \
        --username ann [--min-confidence 0.9] [--max-images 100]

Needs `requests` only. The token: LABEL_PLATFORM_TOKEN (from your profile page), or one
fetched with --username and the password in LABEL_PLATFORM_PASSWORD (POST /api/auth/token/).
Then, until the queue is empty or --max-images images are done, it asks the project's queue
for your next images (GET /api/projects/{id}/queue/), fetches each file, and either labels the
image (POST /api/images/{id}/annotations/) or skips it (POST /api/projects/{id}/skips/): a
skipped image leaves your queue, here and on the labeling page, until you bring it back.

The decision is `choose_label`; replace it with your own model or lookup. This one labels an
image whose file name holds a class name ("coffee_0042.jpg"), else accepts the model's
suggestion when it is at least --min-confidence sure, else skips.
"""

from __future__ import annotations

import argparse
import os
import sys

import requests

QUEUE_BATCH = 10


def api_token(session: requests.Session, url: str, username: str | None) -> str:
    token = os.environ.get("LABEL_PLATFORM_TOKEN")
    if token:
        return token
    password = os.environ.get("LABEL_PLATFORM_PASSWORD")
    if not (username and password):
        sys.exit("Set LABEL_PLATFORM_TOKEN, or give --username and LABEL_PLATFORM_PASSWORD.")
    answer = session.post(
        f"{url}/api/auth/token/", json={"username": username, "password": password}
    )
    answer.raise_for_status()
    return answer.json()["token"]


def choose_label(
    image: dict, pixels: bytes, class_names: list[str], min_confidence: float
) -> str | None:
    """The class to give `image` (a queue entry; `pixels` its file), or None to skip it."""
    name = image["original_name"].lower()
    for class_name in class_names:
        if class_name.lower() in name:
            return class_name
    suggestion = image["suggestion"]
    if suggestion and suggestion["label"] and suggestion["confidence"] >= min_confidence:
        return suggestion["label"]
    return None


def label_project(
    session: requests.Session, url: str, project: int, min_confidence: float, max_images: int
) -> tuple[int, int]:
    """Labels or skips the caller's queued images; returns (labeled, skipped)."""
    details = session.get(f"{url}/api/projects/{project}/")
    details.raise_for_status()
    class_names = [label_class["name"] for label_class in details.json()["classes"]]
    labeled = skipped = 0
    while labeled + skipped < max_images:
        queue = session.get(
            f"{url}/api/projects/{project}/queue/",
            params={"limit": min(QUEUE_BATCH, max_images - labeled - skipped)},
        )
        queue.raise_for_status()
        images = queue.json()["results"]
        if not images:
            break
        for image in images:
            pixels = session.get(image["url"])  # the same token opens the files
            pixels.raise_for_status()
            label = choose_label(image, pixels.content, class_names, min_confidence)
            if label is None:
                answer = session.post(
                    f"{url}/api/projects/{project}/skips/", json={"image_id": image["id"]}
                )
                skipped += 1
            else:
                answer = session.post(
                    f"{url}/api/images/{image['id']}/annotations/", json={"label": label}
                )
                labeled += 1
            answer.raise_for_status()
            print(f"{image['original_name']}: {label or 'skipped'}")
    return labeled, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the platform's address")
    parser.add_argument("--project", type=int, required=True, help="the project's id")
    parser.add_argument("--username", help="to fetch a token with LABEL_PLATFORM_PASSWORD")
    parser.add_argument("--min-confidence", type=float, default=0.9)
    parser.add_argument("--max-images", type=int, default=100)
    args = parser.parse_args()
    url = args.url.rstrip("/")
    with requests.Session() as session:
        token = api_token(session, url, args.username)
        session.headers["Authorization"] = f"Token {token}"
        labeled, skipped = label_project(
            session, url, args.project, args.min_confidence, args.max_images
        )
    print(f"{labeled} labeled, {skipped} skipped")


if __name__ == "__main__":
    main()
