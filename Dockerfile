# reseller: API server image. Runs as a non-root user; config and DSN come from the environment
# or a mounted file:
#   docker run -e RESELLER_DSN=postgresql://… -e RESELLER_CONFIG=/etc/reseller/config.yaml \
#              -v ./config.yaml:/etc/reseller/config.yaml:ro -p 8080:8080 reseller
# Without RESELLER_DSN it runs the embedded PostgreSQL in /var/lib/reseller/data (mount a volume).
# A compose file with PostgreSQL: deploy/compose.yaml.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reseller ./reseller
COPY sql ./sql
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/reseller --shell /usr/sbin/nologin reseller
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config.example.yaml /etc/reseller/config.example.yaml
USER reseller
WORKDIR /var/lib/reseller
ENV RESELLER_DATA_DIR=/var/lib/reseller/data \
    PYTHONUNBUFFERED=1
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz')"
CMD ["reseller", "serve", "--host", "0.0.0.0"]
