from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Classifier"

    def ready(self) -> None:
        # Connections only; nothing here loads TensorFlow (classifier.ml is imported inside
        # the worker-side functions). Labeling's pages reach the classifier by importing its
        # selectors and forms; labeling itself only sends the images_created signal.
        from classifier import services, worker
        from labeling.signals import images_created
        from labelplatform.celery import app

        images_created.connect(services._new_images_predict, dispatch_uid="classifier-predict-new")
        worker.install(app)
