# Riposte: one image for every role (python app.py | web | worker | doctor). No secret is baked in: settings come
# from the environment at run time (compose.yaml reads them from .env).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY app.py ./
COPY actions ./actions
COPY bot ./bot
# The sandbox is imported only in local mode (the try-out profile); production settings never load it.
COPY sandbox ./sandbox

RUN useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin riposte
USER 10001:10001

# Behind the compose proxy the container listens on all its interfaces; that needs MicrosoftAppId (activities are
# authenticated), which Riposte checks at start. Local mode overrides HOST with a loopback address.
ENV HOST=0.0.0.0 \
    PORT=3978
EXPOSE 3978

# /healthz: 200 when Redis answers. Web fronts and workers both serve it on their own PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3978'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

# Exec form: python is PID 1 and receives SIGTERM itself (in-flight actions finish, held jobs go back).
CMD ["python", "app.py"]
