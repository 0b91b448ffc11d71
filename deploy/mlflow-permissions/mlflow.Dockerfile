# MLflow with its permission app and authgate-mlflow. Build from the repository root:
#   docker build -f deploy/mlflow-permissions/mlflow.Dockerfile -t mlflow-authgate .
FROM python:3.11-slim
RUN pip install --no-cache-dir "mlflow[auth]==3.17.2"
COPY integrations/mlflow /src/authgate-mlflow
RUN pip install --no-cache-dir /src/authgate-mlflow && rm -rf /src
COPY deploy/mlflow-permissions/mlflow-auth.ini /etc/mlflow/auth.ini
ENV MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/auth.ini
RUN mkdir /data && chown 65534:65534 /data
USER 65534
EXPOSE 5000
CMD ["mlflow", "server", "--app-name", "basic-auth", "--host", "0.0.0.0", "--port", "5000", \
     "--backend-store-uri", "sqlite:////data/mlflow.db", "--serve-artifacts", \
     "--artifacts-destination", "/data/artifacts"]
