# The demo image: `docker build -t medimg . && docker run -p 8501:8501 medimg`
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2

# libgl/glib are what OpenCV's headless wheel still links against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libglib2.0-0 curl \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 clinician
WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY pyproject.toml README.md ./
COPY core ./core
COPY training ./training
COPY views ./views
COPY widgets ./widgets
COPY app.py ./
COPY .streamlit ./.streamlit
COPY models ./models
COPY samples ./samples
# /app/feedback: the clinician-feedback SQLite file; mount a volume there so answers outlive the container.
RUN pip install --no-deps . && mkdir -p /app/feedback && chown -R clinician:clinician /app

USER clinician
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl --fail http://localhost:8501/_stcore/health || exit 1

CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
