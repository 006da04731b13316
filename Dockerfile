# tmfgate in a slim image, run as a user of its own. Build: docker build -t tmfgate .
# It listens on every address of the container, so it needs --auth (README "Security") or, behind a
# proxy that authenticates partners, TMFGATE_INSECURE=on; compose.yaml runs it with PostgreSQL.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY tmfgate tmfgate
COPY backends backends
COPY handlers handlers
COPY conformance conformance
COPY specs specs
COPY catalogs catalogs
COPY migrations migrations
# With the event bus's broker clients ([bus]): --event-bus works in the image as it is.
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[bus]'

FROM python:3.12-slim
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/tmfgate tmfgate
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
USER 10001
WORKDIR /var/lib/tmfgate
ENV TMFGATE_HOST=0.0.0.0 \
    TMFGATE_PORT=8080 \
    TMFGATE_DATABASE_URL=sqlite:////var/lib/tmfgate/tmfgate.db \
    PYTHONUNBUFFERED=1
EXPOSE 8080
# Ready: the store answers and has this release's schema (/health/ready); the image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"TMFGATE_PORT\"]}/health/ready', timeout=2)"
STOPSIGNAL SIGTERM
ENTRYPOINT ["tmfgate"]
CMD ["serve"]
