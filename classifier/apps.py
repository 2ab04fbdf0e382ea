from django.apps import AppConfig


class ClassifierConfig(AppConfig):
    name = "classifier"
    verbose_name = "Classifier"

    def ready(self) -> None:
        # Connections only; nothing here loads TensorFlow (worker processes load
        # classifier.worker through labelplatform.celery).
        from classifier import image_filters, selectors, services
        from labeling import selectors as labeling_selectors
        from labeling.signals import images_created

        images_created.connect(services._new_images_predict, dispatch_uid="classifier-predict-new")
        labeling_selectors.labeling_queue_order_by(selectors.labeling_queue_most_uncertain_first)
        image_filters.register()
