from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Classifier"

    def ready(self) -> None:
        # Connections only; nothing here loads TensorFlow (worker processes load
        # classifier.worker through labelplatform.celery). Labeling's pages reach the
        # classifier by importing its selectors and forms; labeling itself only sends the
        # images_created signal.
        from classifier import services
        from labeling.signals import images_created

        images_created.connect(services._new_images_predict, dispatch_uid="classifier-predict-new")
